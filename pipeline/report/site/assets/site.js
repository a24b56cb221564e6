/* callbook static site: progressive enhancement only. Every chart and table works without this
   script; it adds instant tooltips to chart elements (from their SVG <title>, and each session's
   values from a call chart's data-bars) and the filters by
   methodology, kind and author. No network access, no external code. */
(function () {
  "use strict";

  function grouped(text) {
    if (!text) { return "–"; }
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function sessions(chart) {
    var data = chart.getAttribute("data-bars");
    if (!data) { return null; }
    return {
      rows: data.split(";").map(function (row) { return row.split(" "); }),
      x0: parseFloat(chart.getAttribute("data-x0")),
      step: parseFloat(chart.getAttribute("data-step")),
      top: parseFloat(chart.getAttribute("data-top")),
      bottom: parseFloat(chart.getAttribute("data-bottom"))
    };
  }

  function sessionText(row) {
    var text = row[0] + "  O " + grouped(row[1]) + "  H " + grouped(row[2]) +
      "  L " + grouped(row[3]) + "  C " + grouped(row[4]);
    if (row[5]) { text += "\nSMA50 " + grouped(row[5]); }
    if (row[6]) { text += "  SMA200 " + grouped(row[6]); }
    return text;
  }

  function tooltips() {
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.setAttribute("role", "tooltip");
    tip.hidden = true;
    document.body.appendChild(tip);
    document.querySelectorAll("svg.chart").forEach(function (chart) {
      chart.querySelectorAll("title").forEach(function (title) {
        var owner = title.parentNode;
        owner.setAttribute("data-tip", title.textContent);
        owner.removeChild(title);
      });
      var bars = sessions(chart);
      var cross = null;
      if (bars) {
        cross = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        cross.setAttribute("class", "cross");
        cross.setAttribute("y", bars.top);
        cross.setAttribute("height", bars.bottom - bars.top);
        cross.setAttribute("width", bars.step);
        cross.style.display = "none";
        chart.appendChild(cross);
      }
      var current = null;
      chart.addEventListener("mousemove", function (event) {
        var lines = [];
        if (bars) {
          var point = chart.createSVGPoint();
          point.x = event.clientX;
          point.y = event.clientY;
          var local = point.matrixTransform(chart.getScreenCTM().inverse());
          var i = Math.floor((local.x - bars.x0 + bars.step / 2) / bars.step);
          if (i >= 0 && i < bars.rows.length && local.y >= bars.top && local.y <= bars.bottom) {
            lines.push(sessionText(bars.rows[i]));
            cross.setAttribute("x", bars.x0 + (i - 0.5) * bars.step);
            cross.style.display = "";
          } else {
            cross.style.display = "none";
          }
        }
        var target = event.target.closest ? event.target.closest("[data-tip]") : null;
        if (target !== current) {
          if (current) { current.classList.remove("on"); }
          current = target;
          if (current) { current.classList.add("on"); }
        }
        if (target) { lines.push(target.getAttribute("data-tip")); }
        if (!lines.length) { tip.hidden = true; return; }
        tip.textContent = lines.join("\n");
        tip.hidden = false;
        var x = event.clientX + 14, y = event.clientY + 14;
        var width = tip.offsetWidth, height = tip.offsetHeight;
        if (x + width > window.innerWidth - 8) { x = event.clientX - width - 14; }
        if (y + height > window.innerHeight - 8) { y = event.clientY - height - 14; }
        tip.style.left = Math.max(4, x) + "px";
        tip.style.top = Math.max(4, y) + "px";
      });
      chart.addEventListener("mouseleave", function () {
        if (current) { current.classList.remove("on"); current = null; }
        if (cross) { cross.style.display = "none"; }
        tip.hidden = true;
      });
    });
  }

  function filters() {
    document.querySelectorAll("form[data-filters]").forEach(function (form) {
      form.hidden = false;
      var selects = form.querySelectorAll("select[data-filter]");
      var count = form.querySelector("[data-filter-count]");
      function matches(element) {
        for (var i = 0; i < selects.length; i++) {
          var name = selects[i].getAttribute("data-filter");
          var wanted = selects[i].value;
          var value = element.getAttribute("data-" + name);
          if (wanted && value !== null && value !== wanted) { return false; }
        }
        return true;
      }
      function apply() {
        var shown = 0, total = 0;
        document.querySelectorAll("table[data-filterable] tbody tr").forEach(function (row) {
          var ok = matches(row);
          row.hidden = !ok;
          total += 1;
          if (ok) { shown += 1; }
        });
        document.querySelectorAll(".timeline-box").forEach(function (box) {
          box.hidden = !matches(box);
        });
        if (count) { count.textContent = shown + " of " + total + " rows shown"; }
      }
      selects.forEach(function (select) { select.addEventListener("change", apply); });
      apply();
    });
  }

  tooltips();
  filters();
})();
