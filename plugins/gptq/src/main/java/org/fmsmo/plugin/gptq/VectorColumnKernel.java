package org.fmsmo.plugin.gptq;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** {@link ColumnKernel} on the Vector API, at the CPU's widest float vector. */
final class VectorColumnKernel implements ColumnKernel {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    @Override
    public void subtractScaled(float[] dst, int d0, float[] src, int s0, int n, float f) {
        int k = 0;
        for (int end = SPECIES.loopBound(n); k < end; k += SPECIES.length()) {
            FloatVector product = FloatVector.fromArray(SPECIES, src, s0 + k).mul(f);
            FloatVector.fromArray(SPECIES, dst, d0 + k).sub(product).intoArray(dst, d0 + k);
        }
        for (; k < n; k++) {
            dst[d0 + k] -= src[s0 + k] * f;
        }
    }
}
