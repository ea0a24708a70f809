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
import org.jfree.chart.axis.CategoryAxis;
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
