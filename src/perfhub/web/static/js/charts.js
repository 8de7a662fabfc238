/* perfhub charts: uPlot charts drawn from the JSON data block next to each chart.
 *
 * The pages' Content-Security-Policy runs no inline script, so a chart's data travels in a
 * <script type="application/json"> block and each <div class="chart" data-chart-data="ID">
 * names its block (templates/_chart.html; the data is built by perfhub.web.routes._charts).
 * The x values are calendar days (the athlete's wake dates). They are drawn at UTC midnight and
 * written in UTC, so the browser's own time zone never moves a night to another day.
 * After drawing, the element carries data-points: how many of the athlete's values it shows
 * (and data-band-points for a shaded band), so a test can tell the chart really drew them.
 */
(function () {
  "use strict";

  // The page's colours (static/app.css); canvases cannot read CSS variables cheaply.
  var PALETTE = {
    primary: "#1d4ed8",
    secondary: "#475467",
    band: "#067647",
    low: "#175cd3",
    moderate: "#a15c07",
    high: "#b42318"
  };
  var BAR_FILL = "rgba(29, 78, 216, 0.55)";
  var BAND_FILL = "rgba(6, 118, 71, 0.16)";
  var GRID = "#e4e7ec";
  var AXIS = "#344054";
  var DAY_S = 86400;
  // Day steps between x labels, the smallest that leaves each label room.
  var STEPS = [1, 2, 3, 7, 14, 28, 56, 91, 182];

  function daySeconds(iso) {
    var parts = iso.split("-");
    return Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2])) / 1000;
  }

  function formatDay(seconds, withYear) {
    var options = { month: "short", day: "numeric", timeZone: "UTC" };
    if (withYear) options.year = "numeric";
    return new Date(seconds * 1000).toLocaleDateString(undefined, options);
  }

  function formatValue(spec, value) {
    return value == null ? "—" : value.toFixed(spec.decimals) + (spec.unit ? " " + spec.unit : "");
  }

  function heightFor(width) {
    return width < 480 ? 220 : 260;
  }

  function counted(values) {
    var n = 0;
    for (var i = 0; i < values.length; i++) if (values[i] != null) n++;
    return n;
  }

  function bothPresent(upper, lower) {
    var n = 0;
    for (var i = 0; i < upper.length; i++) if (upper[i] != null && lower[i] != null) n++;
    return n;
  }

  // Dots shrink when nights outnumber the room for them (a year at phone width).
  function seriesOptions(spec, s, dense) {
    var colour = PALETTE[s.colour] || PALETTE.primary;
    var options = {
      label: s.label,
      stroke: colour,
      width: 2,
      spanGaps: false,
      value: function (u, v) { return formatValue(spec, v); }
    };
    if (s.kind === "bars") {
      options.fill = BAR_FILL;
      options.width = 1;
      options.paths = uPlot.paths.bars({ size: [0.6, 48] });
      options.points = { show: false };
    } else if (s.kind === "points") {
      options.paths = function () { return null; };
      options.points = { show: true, space: 0, size: dense ? 3 : 7, width: 1, fill: colour, stroke: colour };
    } else if (s.kind === "line") {
      options.points = { show: !dense, space: 0, size: 5, fill: colour, stroke: colour };
    } else if (s.kind === "band-edge") {
      options.width = 1;
      options.dash = [4, 4];
      options.points = { show: false };
    } else if (s.kind === "reference" || s.kind === "threshold") {
      options.width = 1.5;
      options.dash = [7, 5];
      options.spanGaps = true;
      options.points = { show: false };
      // A threshold's label already says its value.
      if (s.kind === "threshold") options.value = function () { return ""; };
    }
    return options;
  }

  function xSplits(xs) {
    return function (u) {
      if (!xs.length) return [];
      var first = xs[0];
      var last = xs[xs.length - 1];
      var days = Math.round((last - first) / DAY_S) + 1;
      var withYear = days > 180;
      var width = u.bbox.width / (window.devicePixelRatio || 1);
      var room = Math.max(2, Math.floor(width / (withYear ? 100 : 64)));
      var step = STEPS[STEPS.length - 1];
      for (var i = 0; i < STEPS.length; i++) {
        if (Math.ceil(days / STEPS[i]) <= room) { step = STEPS[i]; break; }
      }
      // Counted back from the last day, so the newest night is always labelled.
      var splits = [];
      for (var t = last; t >= first; t -= step * DAY_S) splits.unshift(t);
      return splits;
    };
  }

  function yRange(spec) {
    return function (u, min, max) {
      if (min == null || max == null) { min = 0; max = 1; }
      if (spec.yFloor != null) min = Math.min(min, spec.yFloor);
      if (spec.yCeiling != null) max = Math.max(max, spec.yCeiling);
      var pad = (max - min) * 0.08 || Math.abs(max) * 0.05 || 1;
      return [spec.yFloor != null ? spec.yFloor : min - pad, max + pad];
    };
  }

  function options(spec, xs, width) {
    var withYear = xs.length > 1 && (xs[xs.length - 1] - xs[0]) / DAY_S > 180;
    var series = [{
      label: spec.xName || "Night",
      value: function (u, v) { return v == null ? "—" : formatDay(v, true); }
    }];
    var dense = xs.length * 6 > width;
    spec.series.forEach(function (s) { series.push(seriesOptions(spec, s, dense)); });
    var opts = {
      width: width,
      height: heightFor(width),
      series: series,
      scales: {
        x: {
          time: false,
          // Half a day either side, so the first and last bars are whole.
          range: function (u, min, max) { return [min - DAY_S / 2, max + DAY_S / 2]; }
        },
        y: { range: yRange(spec) }
      },
      axes: [
        {
          label: spec.xLabel,
          stroke: AXIS,
          grid: { stroke: GRID, width: 1 },
          ticks: { stroke: GRID, width: 1 },
          splits: xSplits(xs),
          values: function (u, splits) {
            return splits.map(function (t) { return formatDay(t, withYear); });
          }
        },
        {
          label: spec.yLabel,
          stroke: AXIS,
          grid: { stroke: GRID, width: 1 },
          ticks: { stroke: GRID, width: 1 },
          size: 56
        }
      ],
      // Room on the right for half of the newest day's label, which sits on the plot's edge.
      padding: [12, withYear ? 48 : 28, 0, 0],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true }
    };
    if (spec.band) {
      // uPlot counts the x values as series 0.
      opts.bands = [{ series: [spec.band.series[0] + 1, spec.band.series[1] + 1], fill: BAND_FILL }];
    }
    return opts;
  }

  function lastIndexWithValue(values) {
    for (var i = values.length - 1; i >= 0; i--) if (values[i] != null) return i;
    return null;
  }

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-chart-data"));
    if (!source || typeof uPlot === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var xs = spec.x.map(daySeconds);
    var data = [xs].concat(spec.series.map(function (s) { return s.values; }));
    var mine = spec.series[spec.counted].values;
    var width = element.clientWidth;
    var opts = options(spec, xs, width);
    var newest = lastIndexWithValue(mine);
    opts.hooks = {
      draw: [function () {
        element.setAttribute("data-points", String(counted(mine)));
        if (spec.band) {
          var upper = spec.series[spec.band.series[0]].values;
          var lower = spec.series[spec.band.series[1]].values;
          element.setAttribute("data-band-points", String(bothPresent(upper, lower)));
        }
      }],
      // Until the pointer picks a night, the legend shows the newest one's values.
      ready: [function (u) { if (newest != null) u.setLegend({ idx: newest }); }],
      setCursor: [function (u) { if (u.cursor.idx == null && newest != null) u.setLegend({ idx: newest }); }]
    };
    followWidth(element, new uPlot(opts, data, element), width);
  }

  function followWidth(element, chart, width) {
    var drawnWidth = width;
    var pending = false;
    function resize() {
      pending = false;
      var now = element.clientWidth;
      if (now && now !== drawnWidth) {
        drawnWidth = now;
        chart.setSize({ width: now, height: heightFor(now) });
      }
    }
    function schedule() {
      if (!pending) { pending = true; window.requestAnimationFrame(resize); }
    }
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(schedule).observe(element);
    else window.addEventListener("resize", schedule);
  }

  var charts = document.querySelectorAll(".chart[data-chart-data]");
  for (var i = 0; i < charts.length; i++) draw(charts[i]);
})();
