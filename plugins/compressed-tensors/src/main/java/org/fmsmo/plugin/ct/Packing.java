package org.fmsmo.plugin.ct;

/**
 * Packing of unsigned b-bit codes into little-endian int32 words, {@code 32 / b} per word, the
 * first element in the lowest bits — the layout both compressed-tensors' {@code pack-quantized}
 * (along the input dimension) and GPTQ's {@code qweight} / {@code qzeros} use.
 */
final class Packing {

    private Packing() {
    }

    /** Codes per int32 word. */
    static int perWord(int bits) {
        if (32 % bits != 0) {
            throw new IllegalArgumentException(bits + "-bit codes do not pack evenly into int32 words");
        }
        return 32 / bits;
    }

    /**
     * Packs a row-major {@code [rows, cols]} matrix of codes in {@code [0, 2^b)} along its rows
     * (each row's columns into {@code ceil(cols / perWord)} words).
     */
    static int[] packRows(int[] codes, int rows, int cols, int bits) {
        int per = perWord(bits);
        int words = (cols + per - 1) / per;
        int[] out = new int[rows * words];
        int mask = (1 << bits) - 1;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * words + c / per] |= (codes[r * cols + c] & mask) << (bits * (c % per));
            }
        }
        return out;
    }

    /** The inverse of {@link #packRows}. */
    static int[] unpackRows(int[] words, int rows, int cols, int bits, String where) {
        int per = perWord(bits);
        int perRow = (cols + per - 1) / per;
        checkWords(words, rows, cols, (long) rows * perRow, bits, where);
        int[] out = new int[rows * cols];
        int mask = (1 << bits) - 1;
        // word by word, without a division per code: an 8B block has 218 M of them
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            for (int w = 0, c = 0; w < perRow; w++) {
                int word = words[r * perRow + w];
                for (int k = 0; k < per && c < cols; k++, c++) {
                    out[o + c] = (word >>> (bits * k)) & mask;
                }
            }
        }
        return out;
    }

    /** Packs along the columns of a row-major {@code [rows, cols]} matrix: word {@code [r / per, c]}. */
    static int[] packColumns(int[] codes, int rows, int cols, int bits) {
        int per = perWord(bits);
        int wordRows = (rows + per - 1) / per;
        int[] out = new int[wordRows * cols];
        int mask = (1 << bits) - 1;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[(r / per) * cols + c] |= (codes[r * cols + c] & mask) << (bits * (r % per));
            }
        }
        return out;
    }

    /** The inverse of {@link #packColumns}. */
    static int[] unpackColumns(int[] words, int rows, int cols, int bits, String where) {
        int per = perWord(bits);
        checkWords(words, rows, cols, (long) ((rows + per - 1) / per) * cols, bits, where);
        int[] out = new int[rows * cols];
        int mask = (1 << bits) - 1;
        // a row of words at a time, each of its `per` code rows at one shift: no division per code
        for (int wr = 0, r = 0; r < rows; wr++) {
            for (int k = 0; k < per && r < rows; k++, r++) {
                int shift = bits * k;
                for (int c = 0, o = r * cols, i = wr * cols; c < cols; c++) {
                    out[o + c] = (words[i + c] >>> shift) & mask;
                }
            }
        }
        return out;
    }

    /**
     * Refuses a shape that is not positive, too large for one array, or that does not match the
     * number of packed words: a corrupt or hand-edited checkpoint, which would otherwise fail deep
     * in the unpacking with an array index or size exception.
     */
    private static void checkWords(int[] words, int rows, int cols, long expected, int bits, String where) {
        if (rows <= 0 || cols <= 0 || (long) rows * cols > Integer.MAX_VALUE - 8) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.CORRUPT_INPUT, where + ": a [" + rows + ", " + cols
                    + "] matrix of codes is not a valid shape (expected positive sizes of at most 2^31 elements)");
        }
        if (words.length != expected) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.CORRUPT_INPUT, where + ": " + words.length + " packed words; a ["
                    + rows + ", " + cols + "] matrix of " + bits + "-bit codes needs " + expected);
        }
    }
}
