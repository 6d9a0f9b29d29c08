package dev.kernelbridge.cli;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes the CLI's JSON: maps keep insertion order, so field order is stable. */
final class Json {
    private Json() { }

    static Map<String, Object> object() {
        return new LinkedHashMap<>();
    }

    /** A dispatch event as the demos print it in JSON: its kind under "event", then its fields. */
    static Map<String, Object> event(dev.kernelbridge.DispatchEvent e) {
        Map<String, Object> row = object();
        switch (e) {
            case dev.kernelbridge.DispatchEvent.Failover f -> {
                row.put("event", "failover");
                row.put("from", f.from());
                row.put("to", f.to());
                row.put("part", f.part());
                row.put("reason", f.reason());
            }
            case dev.kernelbridge.DispatchEvent.HealthChange h -> {
                row.put("event", "health");
                row.put("device", h.device());
                row.put("from", h.from().name());
                row.put("to", h.to().name());
                row.put("reason", h.reason());
            }
            case dev.kernelbridge.DispatchEvent.CanaryMismatch c -> {
                row.put("event", "canary");
                row.put("device", c.device());
                row.put("checkedOn", c.checkedOn());
                row.put("detail", c.detail());
            }
            case dev.kernelbridge.DispatchEvent.Foresight f -> {
                row.put("event", "foresight");
                row.put("device", f.device());
                row.put("rule", f.rule());
                row.put("action", f.action());
                row.put("reason", f.why());
            }
        }
        return row;
    }

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out);
        return out.toString();
    }

    private static void write(Object value, StringBuilder out) {
        switch (value) {
            case null -> out.append("null");
            case String s -> string(s, out);
            case Boolean b -> out.append(b);
            case Double d when d.isNaN() || d.isInfinite() -> out.append("null");
            case Float f when f.isNaN() || f.isInfinite() -> out.append("null");
            case Number n -> out.append(n);
            case Map<?, ?> m -> {
                out.append('{');
                Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<?, ?> e = it.next();
                    string(String.valueOf(e.getKey()), out);
                    out.append(':');
                    write(e.getValue(), out);
                    if (it.hasNext()) {
                        out.append(',');
                    }
                }
                out.append('}');
            }
            case List<?> l -> {
                out.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    write(l.get(i), out);
                }
                out.append(']');
            }
            default -> string(value.toString(), out);
        }
    }

    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
