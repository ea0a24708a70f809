package org.fmsmo.core.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The terminal bar: the library draws task, count, percent and rate; notes land on their own line. */
class TerminalProgressTest {

    @Test
    void drawsTheBarAndKeepsNotesOnTheirOwnLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        TerminalProgress p = new TerminalProgress(out, true);
        p.begin("quantize", 12, "layers");
        for (int i = 0; i < 12; i++) {
            p.item("model.layers." + i + ".mlp.down_proj");
            p.advance(1);
        }
        p.note("lm_head stays in float");
        p.end();
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("quantize") && text.contains("100%") && text.contains("12/12"), text);
        assertTrue(text.contains("\r\033[Knote: lm_head stays in float\n"), text);
        assertTrue(text.contains("layers/s"), "the rate: " + text);
    }
}
