package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The CLI's contract: exit codes, stable JSON fields, one-line messages that name the argument. */
class MainTest {
    private record Outcome(int code, String out, String err) { }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void devicesJsonHasTheStableFields() {
        Outcome o = run("devices", "--json");
        assertEquals(0, o.code(), o.err());
        for (String field : new String[] {"\"devices\":[", "\"id\":\"cpu:0\"", "\"backend\":\"cpu\"", "\"name\":", "\"vendor\":", "\"kind\":\"cpu\"",
                "\"memoryBytes\":", "\"dtypes\":[\"bf16\",\"f16\",\"f32\",\"f64\",\"i32\",\"i8\"]", "\"available\":true",
                "\"routine.vector\":\"Vector API kernels", "\"telemetry\":{\"source\":\"linux sysfs\""}) {
            assertTrue(o.out().contains(field), field + " missing in " + o.out());
        }
    }

    @Test
    void verifiedGemmInJson() {
        Outcome o = run("gemm", "--dtype", "f64", "--m", "70", "--n", "33", "--k", "129", "--transa", "--layout", "col",
                "--alpha", "0.5", "--beta", "2", "--repeat", "3", "--verify", "--json");
        assertEquals(0, o.code(), o.err());
        for (String field : new String[] {"\"device\":\"cpu:0\"", "\"dtype\":\"f64\"", "\"m\":70", "\"n\":33", "\"k\":129", "\"seconds\":",
                "\"gflops\":", "\"verified\":true", "\"maxRelError\":"}) {
            assertTrue(o.out().contains(field), field + " missing in " + o.out());
        }
    }

    @Test
    void verifiedAllReduceInJson() {
        Outcome o = run("allreduce", "--ranks", "3", "--count", "10007", "--op", "max", "--repeat", "2", "--verify", "--json");
        assertEquals(0, o.code(), o.err());
        for (String field : new String[] {"\"ranks\":3", "\"count\":10007", "\"dtype\":\"f32\"", "\"op\":\"max\"", "\"seconds\":",
                "\"algBandwidthGBs\":", "\"busBandwidthGBs\":", "\"verified\":true"}) {
            assertTrue(o.out().contains(field), field + " missing in " + o.out());
        }
    }

    @Test
    void badArgumentsExitWith2AndNameTheArgument() {
        Outcome neg = run("gemm", "--m", "-3", "--n", "2", "--k", "2");
        assertEquals(2, neg.code());
        assertTrue(neg.err().contains("--m must be >= 0"), neg.err());
        Outcome missing = run("gemm", "--n", "2", "--k", "2");
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("--m is required"), missing.err());
        Outcome dtype = run("gemm", "--m", "1", "--n", "1", "--k", "1", "--dtype", "f8");
        assertEquals(2, dtype.code());
        assertTrue(dtype.err().contains("--dtype must be one of"), dtype.err());
        Outcome device = run("gemm", "--m", "1", "--n", "1", "--k", "1", "--device", "cuda:7");
        assertEquals(2, device.code());
        assertTrue(device.err().contains("device must be one of [cpu:0"), device.err());
        Outcome op = run("allreduce", "--ranks", "2", "--count", "4", "--op", "xor");
        assertEquals(2, op.code());
        assertTrue(op.err().contains("--op must be one of"), op.err());
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run("devices", "--jsn").code());
    }

    @Test
    void demoVerifiesEverythingAndDoctorReports() {
        Outcome demo = run("demo", "--json");
        assertEquals(0, demo.code(), demo.err());
        assertTrue(demo.out().contains("\"ok\":true"), demo.out());
        Outcome doctor = run("doctor", "--json");
        assertEquals(0, doctor.code(), doctor.err());
        assertTrue(doctor.out().contains("\"check\":\"vector-api\",\"ok\":true"), doctor.out());
        assertTrue(doctor.out().contains("kernelbridge.collective.timeout"), doctor.out());
        assertTrue(doctor.out().contains("\"check\":\"telemetry cpu:0\",\"ok\":true"), "every device says what telemetry it reports: " + doctor.out());
    }
}
