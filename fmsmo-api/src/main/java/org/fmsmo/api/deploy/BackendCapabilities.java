package org.fmsmo.api.deploy;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.fmsmo.api.Stable;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;

/**
 * What a backend executes, as a list of schemes (weight format × activation format).
 *
 * @param device  where it computes ({@code cpu}, {@code cuda:0}); not null
 * @param schemes what it runs; copied
 */
@Stable(since = "1.0")
public record BackendCapabilities(String device, List<Scheme> schemes) {

    /** Copies the list. */
    public BackendCapabilities {
        Objects.requireNonNull(device, "device");
        schemes = List.copyOf(schemes);
    }

    /** Whether some scheme runs layers with this weight and input spec ({@code input} null: weight-only). */
    public boolean supports(QuantSpec weight, QuantSpec input) {
        return schemes.stream().anyMatch(s -> s.accepts(weight, input));
    }

    /**
     * What {@link DeployBackend#prepare} does first: refuses a layer no scheme runs.
     *
     * @param backend the backend's name, for the message
     * @throws org.fmsmo.api.FmsmoException {@link org.fmsmo.api.ErrorCode#UNSUPPORTED_SPEC} naming the layer, its specs and the schemes offered
     */
    @org.fmsmo.api.Experimental(since = "1.0")
    public void requireSupported(String backend, FrozenLinear layer) {
        if (!supports(layer.weight().spec(), layer.inputSpec())) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.UNSUPPORTED_SPEC, backend + " cannot run layer " + layer.name()
                    + " with weight " + layer.weight().spec() + " and input " + layer.inputSpec() + "; it runs "
                    + schemes.stream().map(Scheme::name).toList());
        }
    }

    /**
     * One supported combination.
     *
     * @param name                  e.g. {@code W8A8-int}; not null
     * @param weightType            weight number format; not null
     * @param maxWeightBits         widest weight bit width accepted
     * @param weightGranularities   accepted weight granularities; copied
     * @param asymmetricWeights     whether weight zero points are accepted
     * @param inputType             activation number format, or null for weight-only schemes
     * @param inputGranularities    accepted activation granularities; copied (empty for weight-only)
     * @param asymmetricInputs      whether activation zero points are accepted
     */
    @Stable(since = "1.0")
    public record Scheme(String name, QuantType weightType, int maxWeightBits, Set<Granularity> weightGranularities,
                         boolean asymmetricWeights, QuantType inputType, Set<Granularity> inputGranularities,
                         boolean asymmetricInputs) {

        /** Copies the sets. */
        public Scheme {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(weightType, "weightType");
            weightGranularities = Set.copyOf(weightGranularities);
            inputGranularities = Set.copyOf(inputGranularities);
        }

        /** Whether this scheme runs a layer with these specs ({@code input} null: weight-only). */
        public boolean accepts(QuantSpec weight, QuantSpec input) {
            boolean w = weight.type() == weightType && weight.bits() <= maxWeightBits
                    && weightGranularities.contains(weight.granularity()) && (asymmetricWeights || weight.symmetric());
            if (!w) {
                return false;
            }
            if (input == null) {
                return inputType == null;
            }
            return input.type() == inputType && input.bits() <= 8
                    && inputGranularities.contains(input.granularity()) && (asymmetricInputs || input.symmetric());
        }
    }
}
