package org.fmsmo.plugin.gptq;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link ColumnKernel} on the Vector API, at the CPU's widest float vector: four vectors of the
 * column are held in registers while every earlier column's error is added to them, so each
 * error vector is loaded once and the column is written once.
 */
final class VectorColumnKernel implements ColumnKernel {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int L = SPECIES.length();

    @Override
    public void applyErrors(float[] dst, int d0, float[] err, int e0, int errStride, float[] u, int u0, int uStride, int count, int n) {
        int k = 0;
        for (; k + 4 * L <= n; k += 4 * L) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, dst, d0 + k);
            FloatVector a1 = FloatVector.fromArray(SPECIES, dst, d0 + k + L);
            FloatVector a2 = FloatVector.fromArray(SPECIES, dst, d0 + k + 2 * L);
            FloatVector a3 = FloatVector.fromArray(SPECIES, dst, d0 + k + 3 * L);
            for (int p = 0; p < count; p++) {
                FloatVector f = FloatVector.broadcast(SPECIES, -u[u0 + p * uStride]);
                int src = e0 + p * errStride + k;
                a0 = FloatVector.fromArray(SPECIES, err, src).fma(f, a0);
                a1 = FloatVector.fromArray(SPECIES, err, src + L).fma(f, a1);
                a2 = FloatVector.fromArray(SPECIES, err, src + 2 * L).fma(f, a2);
                a3 = FloatVector.fromArray(SPECIES, err, src + 3 * L).fma(f, a3);
            }
            a0.intoArray(dst, d0 + k);
            a1.intoArray(dst, d0 + k + L);
            a2.intoArray(dst, d0 + k + 2 * L);
            a3.intoArray(dst, d0 + k + 3 * L);
        }
        for (; k + L <= n; k += L) {
            FloatVector a = FloatVector.fromArray(SPECIES, dst, d0 + k);
            for (int p = 0; p < count; p++) {
                a = FloatVector.fromArray(SPECIES, err, e0 + p * errStride + k).fma(FloatVector.broadcast(SPECIES, -u[u0 + p * uStride]), a);
            }
            a.intoArray(dst, d0 + k);
        }
        for (; k < n; k++) {
            float a = dst[d0 + k];
            for (int p = 0; p < count; p++) {
                a = Math.fma(err[e0 + p * errStride + k], -u[u0 + p * uStride], a);
            }
            dst[d0 + k] = a;
        }
    }
}
