package org.fmsmo.core.report;

import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.quant.QuantReport.LayerResult;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.fmsmo.core.pipeline.LayerProfile;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.renderer.xy.XYStepRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The report's plots, drawn with JFreeChart into PNG bytes (headless: no display is needed).
 * Horizontal bars keep long layer names readable; the chart grows with the number of layers.
 */
final class Charts {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final int WIDTH = 900;
    /** Where an empty histogram bin is drawn on a log axis (below 1, the smallest count). */
    private static final double EMPTY_BIN = 0.5;

    private Charts() {
    }

    /** Relative weight error (and output error where the method measured it) per layer, in model order. */
    static byte[] layerErrors(List<LayerResult> layers, String commonPrefix) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (LayerResult l : layers) {
            String name = l.name().substring(commonPrefix.length());
            data.addValue(l.metrics().getOrDefault("weight_rel_error", Double.NaN), "weight ‖Ŵ−W‖/‖W‖", name);
            if (l.metrics().containsKey("output_rel_error")) {
                data.addValue(l.metrics().get("output_rel_error"), "output ‖ŷ−y‖/‖y‖ (calibration inputs)", name);
            }
        }
        JFreeChart chart = bars("Quantization error by layer (model order)", "layer", "relative error (L2)", data);
        return png(chart, WIDTH, Math.max(260, 120 + 18 * layers.size()));
    }

    /** Wall time per stage of the run, seconds. */
    static byte[] stages(Map<String, Double> seconds) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        seconds.forEach((stage, s) -> data.addValue(s, "seconds", stage));
        return png(bars("Time per stage", "stage", "seconds", data), WIDTH, Math.max(220, 100 + 28 * seconds.size()));
    }

    /** Two numbers on held-out text: perplexity of the input and the quantized model, or the mean and minimum cosine between them. */
    static byte[] accuracy(String measure, String unit, String firstLabel, double first, String secondLabel, double second) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        data.addValue(first, measure, firstLabel);
        data.addValue(second, measure, secondLabel);
        return png(bars(measure + " on held-out text", "", unit, data), WIDTH, 220);
    }

    /** Each layer's loss when it alone is quantized, most sensitive first. */
    static byte[] sensitivity(Map<String, Double> ranked, String title, String unit) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        ranked.forEach((layer, loss) -> data.addValue(loss, unit, layer));
        return png(bars(title, "layer (most sensitive first)", unit, data), WIDTH, Math.max(260, 120 + 18 * ranked.size()));
    }

    /**
     * Per input channel, {@code max |x|} of a layer's input over the calibration examples; the
     * channels at or above {@code outlier} drawn as red points.
     */
    static byte[] inputRanges(String layer, float[] absMax, double outlier) {
        XYSeries all = new XYSeries("max |x| per channel");
        XYSeries loud = new XYSeries(String.format(java.util.Locale.ROOT, "outlier channels (≥ %.3g)", outlier));
        for (int c = 0; c < absMax.length; c++) {
            all.add(c, absMax[c]);
            if (absMax[c] >= outlier) {
                loud.add(c, absMax[c]);
            }
        }
        XYSeriesCollection data = new XYSeriesCollection(all);
        data.addSeries(loud);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer();
        r.setSeriesLinesVisible(0, true);
        r.setSeriesShapesVisible(0, false);
        r.setSeriesLinesVisible(1, false);
        r.setSeriesShapesVisible(1, true);
        r.setSeriesPaint(0, new Color(0x3B6EA8));
        r.setSeriesPaint(1, new Color(0xD03030));
        NumberAxis x = new NumberAxis("input channel");
        x.setAutoRangeIncludesZero(true);
        return png(xy("Input range of " + layer + " (calibration inputs, before quantization)", x,
                new NumberAxis("max |x| over the calibration tokens"), data, r), WIDTH, 300);
    }

    /** The float weight's values and its dequantized codes, counted in the same bins. */
    static byte[] weightHistogram(String layer, LayerProfile.Histogram h) {
        XYSeries before = new XYSeries("float weight");
        XYSeries after = new XYSeries("quantized (dequantized codes)");
        double width = (h.max() - h.min()) / h.before().length;
        for (int i = 0; i < h.before().length; i++) {
            double centre = h.min() + (i + 0.5) * width;
            before.add(centre, Math.max(EMPTY_BIN, h.before()[i]));
            after.add(centre, Math.max(EMPTY_BIN, h.after()[i]));
        }
        XYSeriesCollection data = new XYSeriesCollection(before);
        data.addSeries(after);
        XYStepRenderer r = new XYStepRenderer();
        r.setSeriesPaint(0, new Color(0x3B6EA8));
        r.setSeriesPaint(1, new Color(0xE0803A));
        LogAxis y = new LogAxis("weights per bin (log scale)");
        long most = java.util.stream.LongStream.concat(java.util.Arrays.stream(h.before()), java.util.Arrays.stream(h.after())).max().orElse(1);
        y.setSmallestValue(EMPTY_BIN);
        y.setRange(EMPTY_BIN, 2.0 * Math.max(1, most)); // empty bins sit on the floor
        return png(xy("Weight values of " + layer + ", before and after quantization", new NumberAxis("weight value"), y, data, r),
                WIDTH, 300);
    }

    private static JFreeChart xy(String title, org.jfree.chart.axis.ValueAxis x, org.jfree.chart.axis.ValueAxis y, XYSeriesCollection data,
                                 org.jfree.chart.renderer.xy.XYItemRenderer renderer) {
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xCCCCCC));
        plot.setDomainGridlinePaint(new Color(0xCCCCCC));
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 14), plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    private static JFreeChart bars(String title, String categories, String values, DefaultCategoryDataset data) {
        CategoryPlot plot = new CategoryPlot(data, new CategoryAxis(categories), new org.jfree.chart.axis.NumberAxis(values), new BarRenderer());
        plot.setOrientation(PlotOrientation.HORIZONTAL);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xCCCCCC));
        plot.getDomainAxis().setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        plot.getDomainAxis().setMaximumCategoryLabelWidthRatio(0.45f);
        BarRenderer r = (BarRenderer) plot.getRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setSeriesPaint(0, new Color(0x3B6EA8));
        r.setSeriesPaint(1, new Color(0xE0803A));
        JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 14), plot, data.getRowCount() > 1);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    private static byte[] png(JFreeChart chart, int width, int height) {
        try {
            return ChartUtils.encodeAsPNG(chart.createBufferedImage(width, height));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
