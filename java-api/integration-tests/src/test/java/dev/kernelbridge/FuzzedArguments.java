package dev.kernelbridge;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

/** Argument values for the argument fuzzers: mostly small and legal, sometimes negative or huge, so both sides of every rule are reached. */
final class FuzzedArguments {
    private FuzzedArguments() { }

    static long small(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 9)) {
            case 0 -> data.consumeLong();
            case 1 -> data.consumeLong(-3, -1);
            default -> data.consumeLong(0, 24);
        };
    }

    static double scalar(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.consumeInt(-3, 3) : data.consumeDouble();
    }
}
