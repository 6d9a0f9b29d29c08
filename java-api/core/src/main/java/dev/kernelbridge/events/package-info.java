/**
 * JFR events of KernelBridge (category "KernelBridge", names {@code dev.kernelbridge.*}). Rare events
 * (health changes, failovers, canary mismatches, tuning lookups) are enabled by default; per-call
 * events (backend selection, launches, transfers) are disabled and cost one check when off. Backends
 * may emit them too.
 */
package dev.kernelbridge.events;
