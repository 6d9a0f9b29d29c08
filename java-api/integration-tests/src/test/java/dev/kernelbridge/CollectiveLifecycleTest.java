package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.cpu.CpuBackendProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Collectives against the lifecycle of their communicators and bridge, on real in-process CPU ranks.
 *
 * <p>Invariants: (R18) a communicator closed while its peers are mid-call never hangs them — each
 * call completes with the exact sum or fails with a {@link CollectiveException} or
 * {@link IllegalStateException} within deadline + grace, and a rank that was closed refuses new
 * calls; (R39) after a group is aborted (a rank lost), the same bridge builds a smaller group whose
 * results are bitwise those of a fresh bridge: no state of the dead group leaks into the new one.
 */
class CollectiveLifecycleTest {
    private static final String TIMEOUT = "2s";
    private static final long GRACE_MILLIS = 10_000;

    @Tag("R18")
    @Test
    void closingARankWhileItsPeersCallNeverHangsThem() throws Exception {
        int count = 4096, rounds = 400;
        for (int trial = 0; trial < 4; trial++) {
            try (KernelBridge kb = open()) {
                List<Communicator> ranks = kb.communicators(2);
                ConcurrentLinkedQueue<Throwable> problems = new ConcurrentLinkedQueue<>();
                ConcurrentLinkedQueue<String> outcomes = new ConcurrentLinkedQueue<>();
                CyclicBarrier start = new CyclicBarrier(3);
                List<Thread> threads = new ArrayList<>();
                for (Communicator c : ranks) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        float[] values = new float[count];
                        java.util.Arrays.fill(values, c.rank() + 1);
                        try (DeviceBuffer send = kb.allocate(DType.F32, count).copyFrom(values); DeviceBuffer recv = kb.allocate(DType.F32, count)) {
                            start.await();
                            for (int i = 0; i < rounds; i++) {
                                try {
                                    c.allReduce(send, recv, count, ReduceOp.SUM);
                                    float[] got = recv.toFloatArray();
                                    for (float g : got) {
                                        if (g != 3f) {
                                            problems.add(new AssertionError("rank " + c.rank() + " call " + i + " completed with " + g + ", not 3"));
                                            return;
                                        }
                                    }
                                } catch (CollectiveException | IllegalStateException expected) {
                                    outcomes.add("rank " + c.rank() + " stopped at call " + i + ": " + expected.getClass().getSimpleName());
                                    return;
                                }
                            }
                            outcomes.add("rank " + c.rank() + " completed every call");
                        } catch (Throwable t) {
                            problems.add(t);
                        }
                    }));
                }
                SplittableRandom rnd = new SplittableRandom(trial);
                start.await();
                Thread.sleep(rnd.nextInt(0, 30));
                ranks.get(1).close();
                for (Thread t : threads) {
                    t.join(GRACE_MILLIS + 2_000);
                    assertFalse(t.isAlive(), "a rank still waits " + GRACE_MILLIS + " ms after its peer was closed (a hang)");
                }
                assertTrue(problems.isEmpty(), () -> "unexpected: " + problems);
                assertEquals(2, outcomes.size(), outcomes::toString);
                try (DeviceBuffer b = kb.allocate(DType.F32, 1)) {
                    assertThrows(IllegalStateException.class, () -> ranks.get(1).allReduce(b, b, 1, ReduceOp.SUM),
                            "a closed communicator must refuse new calls");
                }
            }
        }
    }

    @Tag("R39")
    @Test
    void aSmallerGroupAfterAnAbortedOneGivesAFreshBridgesBits() throws Exception {
        int count = 10_007;
        float[][] inputs = new float[2][count];
        SplittableRandom rnd = new SplittableRandom(39);
        for (float[] in : inputs) {
            for (int i = 0; i < count; i++) {
                in[i] = (float) rnd.nextDouble(-1, 1);
            }
        }
        float[] restarted;
        try (KernelBridge kb = open()) {
            // Three ranks; rank 2 is lost (never calls): ranks 0 and 1 time out naming it, and their group stays aborted.
            List<Communicator> three = kb.communicators(3);
            List<Thread> threads = new ArrayList<>();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            for (int r = 0; r < 2; r++) {
                Communicator c = three.get(r);
                threads.add(Thread.ofPlatform().start(() -> {
                    try (DeviceBuffer b = kb.allocate(DType.F32, count)) {
                        c.allReduce(b, b, count, ReduceOp.SUM);
                        failures.add(new AssertionError("rank " + c.rank() + " completed without rank 2"));
                    } catch (CollectiveTimeoutException expected) {
                        if (!expected.getMessage().contains("2")) {
                            failures.add(new AssertionError("the timeout does not name rank 2: " + expected.getMessage()));
                        }
                        try (DeviceBuffer b = kb.allocate(DType.F32, 1)) {
                            c.allReduce(b, b, 1, ReduceOp.SUM);
                            failures.add(new AssertionError("an aborted group took another call"));
                        } catch (CollectiveException stillAborted) {
                            // the documented rule: an aborted communicator stays aborted
                        }
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join(GRACE_MILLIS + 2_000);
                assertFalse(t.isAlive(), "a rank hangs after losing its peer");
            }
            assertTrue(failures.isEmpty(), () -> "unexpected: " + failures);
            three.forEach(Communicator::close);
            // "Restart" with the two survivors, on the same bridge.
            restarted = allReduce(kb, inputs);
        }
        float[] fresh;
        try (KernelBridge kb = open()) {
            fresh = allReduce(kb, inputs);
        }
        assertArrayEquals(fresh, restarted, "the restarted group's result differs from a fresh bridge's");
    }

    private static float[] allReduce(KernelBridge kb, float[][] inputs) throws Exception {
        List<Communicator> ranks = kb.communicators(inputs.length);
        float[][] out = new float[inputs.length][];
        List<Thread> threads = new ArrayList<>();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        for (Communicator c : ranks) {
            threads.add(Thread.ofPlatform().start(() -> {
                try (DeviceBuffer send = kb.allocate(DType.F32, inputs[c.rank()].length).copyFrom(inputs[c.rank()]);
                     DeviceBuffer recv = kb.allocate(DType.F32, inputs[c.rank()].length)) {
                    c.allReduce(send, recv, inputs[c.rank()].length, ReduceOp.SUM);
                    out[c.rank()] = recv.toFloatArray();
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        for (Thread t : threads) {
            if (!t.join(java.time.Duration.ofSeconds(30))) {
                fail("all-reduce hangs");
            }
        }
        assertTrue(failures.isEmpty(), () -> "unexpected: " + failures);
        assertArrayEquals(out[0], out[1], "ranks disagree");
        ranks.forEach(Communicator::close);
        return out[0];
    }

    private static KernelBridge open() {
        return KernelBridge.open(Config.defaults().with(Config.COLLECTIVE_TIMEOUT, TIMEOUT), List.of(new CpuBackendProvider()));
    }
}
