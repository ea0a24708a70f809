package org.fmsmo.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The contract of a {@link DeployBackendProvider}: extend this class in the plugin's tests and
 * return the provider. A backend that is not available on the machine (no GPU) skips the checks
 * that run it, with its own reason.
 *
 * <p>Checked: the name and description; {@code availability()} answers without throwing, and an
 * unavailable backend's {@code create()} is an {@link FmsmoException} with
 * {@link ErrorCode#BACKEND_UNAVAILABLE}; every layer kind the capabilities accept (INT8 or FP8
 * weights per channel, with per-token inputs or weight-only; weight-only 4-bit groups of 64) computes what the host's simulated
 * layer computes, to {@link #tolerance()} of the output's scale; a layer no scheme accepts is refused
 * with {@link ErrorCode#UNSUPPORTED_SPEC} naming it; outputs belong to the input's manager and
 * leave the input unchanged; closing a prepared layer or the backend twice is harmless.
 */
public abstract class DeployBackendConformance {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_+.-]+");

    /** One layer kind to try: weight and input specs (null input: weight-only) and the modes that quantize them. */
    private record Kind(String weight, String weightMode, String input, String inputMode) {
        QuantSpec weightSpec() {
            return QuantSpec.parse(weight);
        }

        QuantSpec inputSpec() {
            return input == null ? null : QuantSpec.parse(input);
        }

        @Override
        public String toString() {
            return weight + (input == null ? " weight-only" : " × " + input);
        }
    }

    private static final List<Kind> KINDS = List.of(
            new Kind("int8-sym-channel", "max", "int8-sym-token", "max"),
            new Kind("int8-sym-channel", "max", null, null),
            new Kind("fp8_e4m3-channel", "fp8_e4m3_scale_perCh", "fp8_e4m3-token", "fp8_e4m3_scale_perToken"),
            new Kind("fp8_e4m3-channel", "fp8_e4m3_scale_perCh", null, null),
            new Kind("int4-sym-g64", "max", null, null),
            new Kind("int4-asym-g64", "minmax", null, null));

    /** Layer kinds no backend runs: tried in turn for the refusal check. */
    private static final List<Kind> ODD = List.of(
            new Kind("int8-sym-channel", "max", "fp8_e4m3-token", "fp8_e4m3_scale_perToken"),
            new Kind("int3-asym-channel", "minmax", "int3-asym-token", "minmax"));

    /** The provider under test. */
    protected abstract DeployBackendProvider provider();

    /** Options for {@code create(options)}; none by default. */
    protected Map<String, String> options() {
        return Map.of();
    }

    /** Largest |backend − simulated| allowed, as a fraction of max(1, |simulated|): float summation order only. */
    protected double tolerance() {
        return 1e-4;
    }

    private DeployBackend started() {
        Availability a = provider().availability();
        Assumptions.assumeTrue(a.available(), () -> provider().name() + " is not available here: " + a.reason());
        return provider().create(options());
    }

    @Test
    void nameDescriptionAndAvailability() {
        DeployBackendProvider p = provider();
        assertTrue(NAME.matcher(p.name()).matches(), "name '" + p.name() + "': letters, digits, -, _, + and . only");
        assertNotNull(p.description(), "description() may be empty, not null");
        Availability a = p.availability();
        assertNotNull(a, "availability() answers");
        assertTrue(a.available() || (a.reason() != null && !a.reason().isBlank()), "an unavailable backend says why");
        assertNotNull(p.options(), "options() may be empty, not null");
    }

    @Test
    void anUnavailableBackendRefusesToStartWithItsCode() {
        DeployBackendProvider p = provider();
        Assumptions.assumeFalse(p.availability().available(), p.name() + " is available here: nothing to refuse");
        FmsmoException e = assertThrows(FmsmoException.class, p::create);
        assertEquals(ErrorCode.BACKEND_UNAVAILABLE, e.code(), e.getMessage());
    }

    @Test
    void everyAcceptedLayerKindComputesWhatTheSimulatedLayerDoes() {
        try (DeployBackend backend = started(); NDManager m = NDManager.newBaseManager()) {
            assertNotNull(backend.capabilities(), "capabilities()");
            m.getEngine().setRandomSeed(17);
            NDArray weight = m.randomNormal(new Shape(40, 256));
            NDArray bias = m.randomNormal(new Shape(40));
            NDArray x = m.randomNormal(0f, 3f, new Shape(6, 256), DataType.FLOAT32);
            float[] xBefore = x.toFloatArray();
            List<Kind> run = new ArrayList<>();
            for (Kind k : KINDS) {
                if (!backend.capabilities().supports(k.weightSpec(), k.inputSpec())) {
                    continue;
                }
                run.add(k);
                Quantizer wq = QuantizerModes.create(k.weightMode(), k.weightSpec());
                Quantizer iq = k.input() == null ? null : QuantizerModes.create(k.inputMode(), k.inputSpec());
                FrozenLinear frozen = FrozenLinear.dynamic("conformance." + k, wq.quantize(weight), bias, k.inputSpec());
                QLinear simulated = new QLinear(new Linear("l", weight, bias), QuantizerModes.create(k.weightMode(), k.weightSpec()), iq);
                simulated.freeze();
                float[] expected = simulated.forward(x).toFloatArray();
                try (PreparedLinear layer = backend.prepare(frozen)) {
                    NDArray y = layer.forward(x);
                    assertSame(x.getManager(), y.getManager(), k + ": the output belongs to the input's manager");
                    assertEquals(new Shape(6, 40), y.getShape(), k + ": output [tokens, out]");
                    float[] actual = y.toFloatArray();
                    for (int i = 0; i < expected.length; i++) {
                        assertEquals(expected[i], actual[i], tolerance() * Math.max(1f, Math.abs(expected[i])), k + ": output " + i);
                    }
                    layer.close(); // and again by try-with-resources: idempotent
                }
                assertArrayEquals(xBefore, x.toFloatArray(), k + ": the input is left unchanged");
            }
            assertTrue(!run.isEmpty(), "the capabilities accept none of " + KINDS + "; offered: " + backend.capabilities().schemes());
        }
    }

    @Test
    void aLayerNoSchemeAcceptsIsRefusedByName() {
        try (DeployBackend backend = started(); NDManager m = NDManager.newBaseManager()) {
            Kind odd = ODD.stream().filter(k -> !backend.capabilities().supports(k.weightSpec(), k.inputSpec())).findFirst().orElse(null);
            Assumptions.assumeTrue(odd != null, "the backend accepts every layer kind tried");
            NDArray weight = m.randomNormal(new Shape(8, 64));
            FrozenLinear frozen = FrozenLinear.dynamic("conformance.odd", QuantizerModes.create(odd.weightMode(), odd.weightSpec()).quantize(weight),
                    null, odd.inputSpec());
            FmsmoException e = assertThrows(FmsmoException.class, () -> backend.prepare(frozen).close());
            assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("conformance.odd"), "the refusal names the layer: " + e.getMessage());
        }
    }

    @Test
    void closingTwiceIsHarmless() {
        DeployBackend backend = started();
        backend.close();
        backend.close();
    }
}
