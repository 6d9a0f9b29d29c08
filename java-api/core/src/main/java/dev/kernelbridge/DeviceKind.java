package dev.kernelbridge;

/** What sort of processor a device is; scheduling treats them alike, people like to know. */
public enum DeviceKind { CPU, GPU, ACCELERATOR, OTHER }
