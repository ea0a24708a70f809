package org.fmsmo.api.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

class QuantSpecTest {

    @Test
    void textFormRoundTrips() {
        for (String s : new String[] {"int4-sym-group128-minmax", "int8-asym-channel-minmax", "fp8_e4m3-sym-token-dynamic",
                "fp8_e5m2-sym-tensor-percentile", "int2-sym-tensor-sawb"}) {
            assertEquals(s, QuantSpec.parse(s).toString());
        }
        QuantSpec s = QuantSpec.parse("int4-g32-asym");
        assertEquals(new QuantSpec(QuantType.INT, 4, false, Granularity.GROUP, 32, RangeSource.MINMAX), s);
        assertEquals(RangeSource.DYNAMIC, QuantSpec.parse("fp8-token").rangeSource());
    }

    @Test
    void invalidCombinationsNameFieldValueAndAllowed() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> QuantSpec.intSymmetric(9));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("QuantSpec.bits") && e.getMessage().contains("found 9") && e.getMessage().contains("2 to 8"), e.getMessage());
        assertThrows(FmsmoException.class, () -> QuantSpec.parse("fp8-asym"));
        assertThrows(FmsmoException.class, () -> QuantSpec.parse("int4-group0"));
        assertThrows(FmsmoException.class, () -> new QuantSpec(QuantType.INT, 8, true, Granularity.TOKEN, 0, RangeSource.MINMAX));
        FmsmoException bad = assertThrows(FmsmoException.class, () -> QuantSpec.parse("int4-percahnnel"));
        assertTrue(bad.getMessage().contains("'percahnnel'") && bad.getMessage().contains("group<N>"), bad.getMessage());
        assertTrue(assertThrows(FmsmoException.class, () -> QuantSpec.parse("uint4")).getMessage().contains("int2 … int8"));
    }
}
