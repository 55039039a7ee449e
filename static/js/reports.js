// Portfolio dashboard charts. Data comes from the page (json_script), labels are translated
// server-side; nothing is fetched.
(function () {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const t = document.getElementById("chart-i18n").dataset;
  const blue = "#1f4e79", green = "#2e8b57", orange = "#e08a1e", red = "#c0392b", grey = "#9aa5b1", teal = "#17a2b8";
  const bucketColours = ["#4caf50", "#cddc39", "#ffc107", "#ff9800", "#f4511e", "#b71c1c"];
  const money = (v) => new Intl.NumberFormat(document.documentElement.lang || "es", {maximumFractionDigits: 0}).format(v) + " " + (t.currency || "€");
  Chart.defaults.font.size = 12;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function chart(id, config) {
    const el = document.getElementById(id);
    if (el) new Chart(el, config);
  }

  chart("chart-aging", {
    type: "bar",
    data: {labels: data.aging.labels, datasets: [
      {label: t.balance, data: data.aging.balance, backgroundColor: bucketColours, yAxisID: "y"},
      {label: t.cases, data: data.aging.cases, type: "line", borderColor: blue, backgroundColor: blue, yAxisID: "y1"},
    ]},
    options: {plugins: {tooltip: {callbacks: {label: (c) => c.dataset.yAxisID === "y" ? money(c.raw) : c.raw + " " + t.cases}}},
      scales: {y: {ticks: {callback: money}}, y1: {position: "right", grid: {drawOnChartArea: false}, beginAtZero: true}}},
  });

  chart("chart-recovery", {
    type: "bar",
    data: {labels: data.recovery.labels, datasets: [
      {label: t.collected, data: data.recovery.collected, backgroundColor: green, yAxisID: "y"},
      {label: t.placed, data: data.recovery.placed, backgroundColor: grey, yAxisID: "y"},
      {label: t.rate, data: data.recovery.rate, type: "line", borderColor: orange, backgroundColor: orange, yAxisID: "y1", spanGaps: true},
    ]},
    options: {scales: {y: {ticks: {callback: money}}, y1: {position: "right", grid: {drawOnChartArea: false}, beginAtZero: true, ticks: {callback: (v) => v + " %"}}}},
  });

  chart("chart-rolls", {
    type: "bar",
    data: {labels: data.rolls.labels, datasets: data.rolls.series.map((s, i) => ({label: s.label, data: s.data, backgroundColor: bucketColours[i % bucketColours.length]}))},
    options: {plugins: {title: {display: true, text: t.roll}}, scales: {y: {beginAtZero: true, max: 100, ticks: {callback: (v) => v + " %"}}}},
  });

  chart("chart-promises", {
    type: "doughnut",
    data: {labels: data.promises.labels, datasets: [{data: data.promises.values, backgroundColor: [green, orange, red, grey]}]},
    options: {plugins: {legend: {position: "bottom"}}},
  });

  chart("chart-activity", {
    type: "bar",
    data: {labels: data.activity.labels, datasets: [
      {label: t.attempts, data: data.activity.attempts, backgroundColor: "#9ecae1"},
      {label: t.rpc, data: data.activity.right_party, backgroundColor: blue},
      {label: t.promises, data: data.activity.promises, type: "line", borderColor: green, backgroundColor: green},
    ]},
    options: {scales: {x: {ticks: {maxRotation: 0, autoSkip: true}}, y: {beginAtZero: true}}},
  });

  chart("chart-objectives", {
    type: "bar",
    data: {labels: data.objectives.labels, datasets: [
      {label: t.cases, data: data.objectives.cases, backgroundColor: teal, yAxisID: "y"},
      {label: t.promiseRate, data: data.objectives.promise_rate, type: "line", borderColor: green, backgroundColor: green, yAxisID: "y1", showLine: false, pointRadius: 6},
    ]},
    options: {scales: {y: {beginAtZero: true}, y1: {position: "right", beginAtZero: true, max: 100, grid: {drawOnChartArea: false}, ticks: {callback: (v) => v + " %"}}}},
  });

  // Money by channel (bars, left axis) beside the promises and plans each brought (right axis).
  if (data.channels) chart("chart-channels", {
    type: "bar",
    data: {labels: data.channels.labels, datasets: [
      {label: t.collected, data: data.channels.collected, backgroundColor: green, yAxisID: "y"},
      {label: t.promises, data: data.channels.promises, backgroundColor: teal, yAxisID: "y1"},
      {label: t.plans, data: data.channels.plans, backgroundColor: orange, yAxisID: "y1"},
    ]},
    options: {scales: {y: {beginAtZero: true, ticks: {callback: (v) => money(v)}}, y1: {position: "right", beginAtZero: true, ticks: {precision: 0}, grid: {drawOnChartArea: false}}}},
  });

  if (data.refusals) chart("chart-refusals", {
    type: "bar",
    data: {labels: data.refusals.labels, datasets: [{label: t.refusals, data: data.refusals.values, backgroundColor: "#8e44ad"}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
  });

  // Technique effectiveness: the bar spans the 95 % interval, the dot is the observed rate.
  // Pale bars have too few interactions to be ranked.
  const tech = data.techniques;
  chart("chart-techniques", {
    type: "bar",
    data: {labels: tech.labels.map((l, i) => tech.enough[i] ? l : l + " (" + t.few + ")"), datasets: [
      {label: t.interval, data: tech.interval, backgroundColor: tech.enough.map((e) => e ? "rgba(31,78,121,.35)" : "rgba(154,165,177,.25)"), borderColor: tech.enough.map((e) => e ? blue : grey), borderWidth: 1, barPercentage: 0.6},
      {label: t.promiseRate, data: tech.rate, type: "line", showLine: false, pointRadius: 6, pointStyle: "rectRot", borderColor: tech.enough.map((e) => e ? orange : grey), backgroundColor: tech.enough.map((e) => e ? orange : grey)},
    ]},
    options: {indexAxis: "y", scales: {x: {min: 0, max: 100, ticks: {callback: (v) => v + " %"}}},
      plugins: {tooltip: {callbacks: {afterLabel: (c) => "n = " + tech.n[c.dataIndex]}}}},
  });
})();
