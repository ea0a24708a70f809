package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The SHA-256 of every file fmsmo writes into a model folder, in {@value #FILE} beside them, in
 * the format of coreutils' {@code sha256sum} (so {@code sha256sum -c SHA256SUMS} in the folder
 * checks it too): one line per file, {@code <64 hex digits><two spaces><relative path>}, sorted
 * by path. A folder is verified before it is loaded: a flipped byte in a quantized checkpoint
 * otherwise evaluates to a plausible perplexity, because packed codes and scales have no
 * redundancy a reader could check. Folders without the file (from the hub, or older) are loaded
 * unverified.
 */
public final class Checksums {

    /** The manifest's name, as release folders call theirs. */
    public static final String FILE = "SHA256SUMS";
    /** More than any model folder's manifest holds: a larger one is not a manifest. */
    private static final long MAX_MANIFEST_BYTES = 1 << 20;
    private static final int BUFFER = 1 << 20;

    private Checksums() {
    }

    /** Writes {@value #FILE} for every regular file under {@code dir} (hidden files too), replacing an older one. */
    public static void write(Path dir) {
        List<String> lines = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).sorted().toList()) {
                String name = relative(dir, p);
                if (!name.equals(FILE)) {
                    lines.add(sha256(p) + "  " + name + "\n");
                }
            }
            Files.writeString(dir.resolve(FILE), String.join("", lines), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write checksums of " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Checks every file {@value #FILE} in {@code dir} lists; files it does not list are not
     * checked (a README added later, say).
     *
     * @return the number of files checked: 0 when the folder has no manifest
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming the first file that is missing
     *         or differs, or the manifest line that cannot be read
     */
    public static int verify(Path dir) {
        Path manifest = dir.resolve(FILE);
        if (!Files.isRegularFile(manifest)) {
            return 0;
        }
        List<String> lines;
        try {
            if (Files.size(manifest) > MAX_MANIFEST_BYTES) {
                throw corrupt(manifest, "is " + Files.size(manifest) + " bytes, over the " + MAX_MANIFEST_BYTES + " a manifest can be");
            }
            lines = TextFiles.readUtf8(manifest, "checksum manifest").lines().toList();
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + manifest + ": " + e.getMessage(), e);
        }
        Path root = dir.toAbsolutePath().normalize();
        int checked = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isEmpty()) {
                continue;
            }
            if (line.length() < 67 || !line.startsWith("  ", 64) || !line.substring(0, 64).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw corrupt(manifest, "line " + (i + 1) + " is not '<64 hex digits>  <file>': '" + excerpt(line) + "'");
            }
            String name = line.substring(66);
            Path file = root.resolve(name).normalize();
            if (!file.startsWith(root) || file.equals(root)) {
                throw corrupt(manifest, "line " + (i + 1) + " names '" + excerpt(name) + "', outside the folder");
            }
            if (!Files.isRegularFile(file)) {
                throw corrupt(manifest, "lists " + name + ", which is missing");
            }
            String expected = line.substring(0, 64).toLowerCase(java.util.Locale.ROOT);
            String found = sha256(file);
            if (!found.equals(expected)) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": SHA-256 " + found + " differs from " + expected + " in " + FILE
                        + "; the file changed after fmsmo wrote it (a bad copy or disk?): copy it again, or pass --no-verify to load it anyway");
            }
            checked++;
        }
        return checked;
    }

    /** The lowercase hex SHA-256 of a file's bytes. */
    public static String sha256(Path file) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buffer.clear()) >= 0) {
                digest.update(buffer.flip());
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + file + ": " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** A manifest's text in an error: at most 80 characters. */
    private static String excerpt(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "…";
    }

    private static String relative(Path dir, Path file) {
        return dir.relativize(file).toString().replace(java.io.File.separatorChar, '/');
    }

    private static FmsmoException corrupt(Path manifest, String what) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, manifest + " " + what + "; pass --no-verify to load the folder without it");
    }
}
