package dev.kernelbridge;

import java.util.List;

/** Some ranks did not reach a collective before its deadline; they are named. */
public class CollectiveTimeoutException extends CollectiveException {
    private static final long serialVersionUID = 1L;

    private final List<Integer> missingRanks;

    public CollectiveTimeoutException(long sequence, List<Integer> missingRanks, String message) {
        super(sequence, message);
        this.missingRanks = List.copyOf(missingRanks);
    }

    public List<Integer> missingRanks() { return missingRanks; }
}
