/**
 * The report page's script (plain browser JavaScript, inlined into the page next to uPlot): reads
 * the charts' data from the page's JSON block and draws each with uPlot. Text from envelopes never
 * goes through innerHTML. Sets document.body.dataset.charts to the number drawn (the browser test
 * waits for it).
 */
export const CLIENT_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById("vb-data").textContent);
  var colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"];
  var drawn = 0;
  data.charts.forEach(function (c, i) {
    var box = document.getElementById("chart-" + c.id);
    if (!box) return;
    var single = c.kind === "hist" && c.series.length === 1;
    var series = [{ label: c.xLabel }].concat(c.series.map(function (s, k) {
      var color = colors[k % colors.length];
      var line = { label: s.label, stroke: color, width: 1.5, spanGaps: true };
      if (single) { line.fill = color + "66"; line.paths = uPlot.paths.bars({ size: [0.95, 100], align: 1 }); line.points = { show: false }; }
      else if (c.kind === "hist") { line.paths = uPlot.paths.stepped({ align: 1 }); line.points = { show: false }; }
      else { line.points = { show: true, size: 5 }; }
      return line;
    }));
    var opts = {
      title: c.title,
      width: Math.max(320, box.clientWidth || 720),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: c.xLabel }, { label: c.yLabel }],
      series: series,
      legend: { show: true },
    };
    new uPlot(opts, [c.x].concat(c.series.map(function (s) { return s.values; })), box);
    drawn++;
  });
  document.body.dataset.charts = String(drawn);
})();
`;
