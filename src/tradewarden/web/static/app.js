// Tradewarden dashboard behaviour: theme toggle, confirmation dialogs, copy buttons, the live
// WebSocket feed (orders, trades, ticks, notifications), inline form results and the strategy
// risk preview. Hand-written, no dependencies.
(function () {
  "use strict";

  var QUEUED = ["failed", "retry_pending"];
  var WORKING = ["created", "submitting", "open", "partially_filled", "pending_cancel", "pending_modify"];
  var numberFormat = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var istDate = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Kolkata", year: "numeric", month: "2-digit", day: "2-digit" });
  var istTime = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var istFull = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Kolkata", day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function csrfToken() {
    var input = $('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function toast(message) {
    var box = $("#toast");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  // --- theme ----------------------------------------------------------------------------------

  function currentTheme() {
    var chosen = document.documentElement.getAttribute("data-theme");
    if (chosen) { return chosen; }
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function setupTheme() {
    var button = $("#theme-toggle");
    if (!button) { return; }
    function describe() {
      button.setAttribute("aria-label", "Switch to " + (currentTheme() === "dark" ? "light" : "dark") + " theme");
    }
    describe();
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try { localStorage.setItem("tw-theme", next); } catch (e) { /* not saved */ }
      describe();
    });
  }

  // --- confirmation dialog -----------------------------------------------------------------------

  var pending = null; // {form, opener}

  function setupConfirm() {
    var dialog = $("#confirm-dialog");
    if (!dialog) { return; }
    var ok = $("#confirm-ok"), error = $("#confirm-error");
    ok.type = "button"; // we decide when the dialog closes

    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) { return; }
      event.preventDefault();
      pending = { form: form, opener: document.activeElement };
      $("#confirm-title").textContent = form.getAttribute("data-confirm");
      var body = $("#confirm-body"), template = $("template.confirm-body", form);
      body.textContent = "";
      if (template) { body.appendChild(template.content.cloneNode(true)); }
      copyLiveValues(form, body);
      ok.textContent = form.getAttribute("data-confirm-button") || "Confirm";
      ok.classList.toggle("danger", /drop|delete|revoke|turn on|cancel order|exit|remove/i.test(ok.textContent));
      ok.disabled = false;
      error.hidden = true;
      dialog.showModal();
    });

    ok.addEventListener("click", function () {
      if (!pending) { return; }
      var form = pending.form;
      if (form.getAttribute("data-confirm-mode") !== "fetch") {
        dialog.close("confirm");
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      ok.disabled = true;
      postForm(form).then(function (result) {
        ok.disabled = false;
        if (result.ok) {
          dialog.close("confirm");
          toast(result.message);
        } else {
          error.textContent = result.message;
          error.hidden = false;
        }
      });
    });

    dialog.addEventListener("close", function () {
      if (pending && pending.opener && document.contains(pending.opener)) { pending.opener.focus(); }
      pending = null;
    });
  }

  // A dialog about a trade shows its numbers as they are now, not as the page was rendered.
  function copyLiveValues(form, body) {
    var holder = form.closest("[data-trade-page]");
    var source = form.closest("[data-trade-id]") || (holder && $("[data-trade-id]", holder));
    if (!source) { return; }
    $all("[data-field]", body).forEach(function (cell) {
      var live = $('[data-field="' + cell.getAttribute("data-field") + '"]', source);
      if (!live) { return; }
      cell.textContent = live.textContent;
      ["pos", "neg", "flat"].forEach(function (name) { cell.classList.toggle(name, live.classList.contains(name)); });
    });
  }

  // Forms marked data-inline-result="#output" post in the background and show the answer there.
  function setupInlineResults() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-inline-result") || form.hasAttribute("data-confirm")) { return; }
      event.preventDefault();
      var output = $(form.getAttribute("data-inline-result")), button = $('button[type="submit"]', form);
      if (button) { button.disabled = true; }
      output.classList.remove("ok", "failed");
      output.textContent = "Sending…";
      postForm(form).then(function (result) {
        if (button) { button.disabled = false; }
        output.textContent = result.message;
        output.classList.add(result.ok ? "ok" : "failed");
      });
    });
  }

  function postForm(form) {
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": body.get("csrf_token") || csrfToken() }
    }).then(function (response) {
      return response.json().then(function (data) {
        return { ok: response.ok, message: data.message || (response.ok ? "Done." : "Refused.") };
      }, function () {
        return { ok: false, message: "Unexpected answer (" + response.status + "); reload the page." };
      });
    }, function () {
      return { ok: false, message: "Could not reach Tradewarden; check the connection." };
    });
  }

  // --- copy and reveal --------------------------------------------------------------------------

  function setupCopy() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy], [data-reveal]");
      if (!button) { return; }
      if (button.hasAttribute("data-reveal")) {
        var field = $(button.getAttribute("data-reveal"));
        var show = field.type === "password";
        field.type = show ? "text" : "password";
        button.textContent = show ? "Hide" : "Show";
        button.setAttribute("aria-pressed", show ? "true" : "false");
        // examples that carry the secret show it masked until it is revealed
        $all("[data-full-text]").forEach(function (example) {
          if (!example.hasAttribute("data-masked-text")) { example.setAttribute("data-masked-text", example.textContent); }
          example.textContent = example.getAttribute(show ? "data-full-text" : "data-masked-text");
        });
        return;
      }
      var source = $(button.getAttribute("data-copy"));
      var text = source.getAttribute("data-full-text") ||
        ("value" in source && source.tagName !== "PRE" ? source.value : source.textContent);
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else {
        fallbackCopy(text);
        done();
      }
    });
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selectable */ }
    document.body.removeChild(area);
  }

  // --- live updates -------------------------------------------------------------------------------

  var resyncTimer = null;

  function setupLive() {
    var path = document.body.getAttribute("data-live");
    if (!path || !("WebSocket" in window)) { return; }
    var status = $("#live-status"), delay = 1000, connectedOnce = false;

    function connect() {
      var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
      socket.onopen = function () {
        delay = 1000;
        status.textContent = "live";
        status.classList.add("on");
        if (connectedOnce) { resync(); } // catch up on what happened while away
        connectedOnce = true;
      };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        var handler = handlers[message.type];
        if (handler) { handler(message.data); }
      };
      socket.onclose = function (event) {
        status.textContent = "offline";
        status.classList.remove("on");
        if (event.code === 1008) { return; } // signed out
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    connect();
  }

  // Re-read the page and swap in its live regions (after a reconnect or for new rows).
  function resync() {
    clearTimeout(resyncTimer);
    resyncTimer = null;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        $all("[data-live-region][id]").forEach(function (region) {
          var replacement = fresh.getElementById(region.id);
          if (replacement) { region.replaceWith(document.importNode(replacement, true)); }
        });
      }, function () { /* next reconnect tries again */ });
  }

  function scheduleResync() {
    if (!resyncTimer) { resyncTimer = setTimeout(resync, 1500); }
  }

  function badge(status) {
    var span = document.createElement("span");
    span.className = "badge s-" + status;
    span.setAttribute("data-status", status);
    span.textContent = status.replace(/_/g, " ");
    return span;
  }

  function money(value) { return numberFormat.format(Number(value)); }
  function istShort(iso) {
    if (!iso) { return "–"; }
    var moment = new Date(iso), now = new Date();
    if (istDate.format(moment) === istDate.format(now)) { return istTime.format(moment) + " IST"; }
    return istFull.format(moment).replace(",", "").slice(0, -3) + " IST";
  }
  function istLong(iso) { return iso ? istFull.format(new Date(iso)).replace(",", "") + " IST" : "–"; }

  function setField(root, name, value) {
    $all('[data-field="' + name + '"]', root).forEach(function (cell) {
      if (value instanceof Node) { cell.textContent = ""; cell.appendChild(value.cloneNode(true)); }
      else { cell.textContent = value; }
    });
  }

  function reasonNode(order) {
    var fragment = document.createDocumentFragment();
    if (order.reason_code) {
      var code = document.createElement("span");
      code.className = "code";
      code.textContent = order.reason_code;
      fragment.appendChild(code);
      fragment.appendChild(document.createTextNode(" "));
    }
    fragment.appendChild(document.createTextNode(order.rejection_reason || order.reason || ""));
    return fragment;
  }

  function updateOrderElement(root, order) {
    setField(root, "status", badge(order.status));
    setField(root, "filled", order.filled_quantity + " / " + order.quantity);
    setField(root, "average_price", order.filled_quantity ? money(order.average_price) : "–");
    setField(root, "retry_count", String(order.retry_count));
    setField(root, "last_attempt", istShort(order.last_retry_at || order.first_failed_at));
    setField(root, "broker_status", order.broker_status || "–");
    setField(root, "updated_at", istLong(order.updated_at));
    $all('[data-field="reason"]', root).forEach(function (cell) {
      cell.textContent = "";
      cell.appendChild(reasonNode(order));
    });
    var queued = QUEUED.indexOf(order.status) >= 0, working = WORKING.indexOf(order.status) >= 0;
    $all('form[data-action="retry"], form[data-action="drop"]', root).forEach(function (form) { form.hidden = !queued; });
    $all('form[data-action="cancel"]', root).forEach(function (form) { form.hidden = !working; });
  }

  function appendEvent(order) {
    var list = $('#timeline[data-order-id="' + order.orderid + '"]');
    var event = order.event;
    if (!list || !event || $('[data-sequence="' + event.sequence + '"]', list)) { return; }
    var item = document.createElement("li");
    item.className = "event new src-" + event.source;
    item.setAttribute("data-sequence", String(event.sequence));
    var time = document.createElement("time");
    time.dateTime = event.created_at;
    time.textContent = istLong(event.created_at);
    var type = document.createElement("span");
    type.className = "event-type";
    type.textContent = event.type;
    var move = document.createElement("span");
    move.className = "event-move";
    move.textContent = (event.from_status ? event.from_status.replace(/_/g, " ") + " → " : "") + event.to_status.replace(/_/g, " ");
    var source = document.createElement("span");
    source.className = "event-source";
    source.textContent = event.source;
    [time, type, move, source].forEach(function (node) { item.appendChild(node); });
    list.appendChild(item);
  }

  function bump(selector, change) {
    $all(selector).forEach(function (cell) {
      var value = Math.max(0, (parseInt(cell.textContent, 10) || 0) + change);
      cell.textContent = String(value);
      var row = cell.closest("tr, li");
      if (row) { row.classList.toggle("zero", value === 0); }
    });
  }

  function updateCounts(order) {
    var event = order.event;
    if (!event || event.from_status === event.to_status) { return; }
    var createdToday = istDate.format(new Date(order.created_at)) === istDate.format(new Date());
    if (createdToday) {
      if (event.from_status) { bump('[data-count-status="' + event.from_status + '"]', -1); }
      else { bump("[data-count-total]", 1); }
      bump('[data-count-status="' + event.to_status + '"]', 1);
    }
    var wasQueued = QUEUED.indexOf(event.from_status) >= 0, isQueued = QUEUED.indexOf(event.to_status) >= 0;
    if (wasQueued !== isQueued) { bump("[data-queue-size]", isQueued ? 1 : -1); }
    if (wasQueued) { bump('[data-queue-count="' + event.from_status + '"]', -1); }
    if (isQueued) { bump('[data-queue-count="' + event.to_status + '"]', 1); }
  }

  // --- trades and ticks ----------------------------------------------------------------------------

  function signedInr(value) {
    var n = Number(value);
    if (value === null || value === undefined || value === "" || isNaN(n)) { return "–"; }
    var text = "₹" + numberFormat.format(Math.abs(n));
    return n > 0 ? "+" + text : n < 0 ? "\u2212" + text : text;
  }
  function price(value) { return value === null || value === undefined || value === "" ? "–" : money(value); }
  function setPnlClass(element, value) {
    var n = Number(value) || 0;
    element.classList.remove("pos", "neg", "flat");
    element.classList.add(n > 0 ? "pos" : n < 0 ? "neg" : "flat");
  }
  function tradeBadge(status) {
    var span = document.createElement("span");
    span.className = "badge t-" + status;
    span.setAttribute("data-status", status);
    span.textContent = status;
    return span;
  }
  function trailText(trail) {
    if (!trail) { return "no trail"; }
    return "trail " + money(trail.value) + (trail.kind === "percent" ? " %" : " pts");
  }

  function setPnl(root, value) {
    $all('[data-field="pnl"]', root).forEach(function (cell) {
      cell.textContent = signedInr(value);
      setPnlClass(cell, value);
    });
    if (root.hasAttribute("data-pnl")) { root.setAttribute("data-pnl", String(value || 0)); }
  }

  function setLevel(root, name, value) {
    $all('[data-level="' + name + '"]', root).forEach(function (cell) {
      cell.setAttribute("data-level-value", value === null || value === undefined ? "" : String(value));
    });
    setField(root, name, price(value));
  }

  // Levels within the page's percentage (data-near) of the last price are highlighted.
  function markNear(root) {
    var holder = root.closest("[data-near]");
    var near = holder ? Number(holder.getAttribute("data-near")) : 0.5;
    var ltp = Number(root.getAttribute("data-ltp"));
    $all("[data-level]", root).forEach(function (cell) {
      var raw = cell.getAttribute("data-level-value"), level = Number(raw);
      var close = raw !== "" && raw !== null && ltp > 0 && Math.abs(ltp - level) * 100 <= near * ltp;
      cell.classList.toggle("near", close);
    });
  }

  function tradeRoots(tradeId) {
    return $all('[data-trade-id="' + tradeId + '"]');
  }

  // Counts, unrealised totals and the per-strategy summary follow the rows on the page.
  function recomputeTrades() {
    var rows = $all("tr[data-trade-id][data-pnl]"), total = 0, unrealised = {}, open = {};
    rows.forEach(function (row) {
      var value = Number(row.getAttribute("data-pnl")) || 0, key = row.getAttribute("data-strategy");
      total += value;
      unrealised[key] = (unrealised[key] || 0) + value;
      open[key] = (open[key] || 0) + 1;
    });
    $all("[data-trades-count]").forEach(function (cell) { cell.textContent = String(rows.length); });
    $all("[data-trades-unrealised]").forEach(function (cell) {
      cell.textContent = signedInr(total);
      setPnlClass(cell, total);
    });
    $all("tr[data-summary]").forEach(function (row) {
      var key = row.getAttribute("data-summary"), all = key === "all";
      var value = all ? total : (unrealised[key] || 0);
      var sum = value + (Number(row.getAttribute("data-realised")) || 0);
      $all('[data-summary-field="open"]', row).forEach(function (cell) { cell.textContent = String(all ? rows.length : (open[key] || 0)); });
      $all('[data-summary-field="unrealised"]', row).forEach(function (cell) { cell.textContent = signedInr(value); setPnlClass(cell, value); });
      $all('[data-summary-field="total"]', row).forEach(function (cell) { cell.textContent = signedInr(sum); setPnlClass(cell, sum); });
    });
  }

  function onTrade(trade) {
    var roots = tradeRoots(trade.trade_id);
    var detail = $('[data-trade-page="' + trade.trade_id + '"]');
    if (detail && detail.getAttribute("data-trade-status") !== trade.status) { scheduleResync(); }
    if (trade.status === "closed") {
      roots.forEach(function (root) { if (root.tagName === "TR") { root.remove(); } });
      recomputeTrades();
      if ($("[data-live-trades]") || $("#trade-history")) { scheduleResync(); } // history, summary
      return;
    }
    if (!roots.length) {
      if ($("[data-live-trades]")) { scheduleResync(); } // a new trade: the server renders its row
      return;
    }
    roots.forEach(function (root) {
      root.setAttribute("data-trade-status", trade.status);
      setField(root, "trade_status", tradeBadge(trade.status));
      setLevel(root, "stop_loss", trade.stop_loss);
      setLevel(root, "target", trade.target);
      setLevel(root, "trailing_level", trade.trailing_level);
      setField(root, "best_price", price(trade.best_price));
      setField(root, "trail", trailText(trade.trailing_stop));
      if (trade.ltp) {
        root.setAttribute("data-ltp", trade.ltp);
        setField(root, "ltp", price(trade.ltp));
        setPnl(root, trade.unrealised_pnl);
      }
      $all('form[data-action="exit"]', root).forEach(function (form) { form.hidden = trade.status !== "active"; });
      markNear(root);
      if (root.tagName === "TR") {
        root.classList.remove("flash");
        void root.offsetWidth;
        root.classList.add("flash");
      }
    });
    if (detail) { $all('form[data-action="exit"]', detail).forEach(function (form) { form.hidden = trade.status !== "active"; }); }
    recomputeTrades();
  }

  function onTick(tick) {
    tick.trades.forEach(function (item) {
      tradeRoots(item.trade_id).forEach(function (root) {
        var before = Number(root.getAttribute("data-ltp"));
        root.setAttribute("data-ltp", tick.ltp || "");
        $all('[data-field="ltp"]', root).forEach(function (cell) {
          cell.textContent = price(tick.ltp);
          cell.classList.toggle("up", Number(tick.ltp) > before);
          cell.classList.toggle("down", Number(tick.ltp) < before);
        });
        setPnl(root, item.unrealised_pnl);
        setLevel(root, "trailing_level", item.trailing_level);
        setField(root, "best_price", price(item.best_price));
        markNear(root);
      });
    });
    recomputeTrades();
  }

  function onNotification(note) {
    var alertsCard = $("#alerts[data-live-region]");
    if ($("[data-live-notifications]") || (alertsCard && (note.event === "failed" || note.kind === "system_alert"))) {
      scheduleResync();
    }
  }

  var handlers = {
    trade: onTrade,
    tick: onTick,
    notification: onNotification,
    order: function (order) {
      var rows = $all('tr[data-order-id="' + order.orderid + '"]');
      rows.forEach(function (row) {
        updateOrderElement(row, order);
        row.classList.remove("flash");
        void row.offsetWidth; // restart the highlight
        row.classList.add("flash");
      });
      $all('.order-head[data-order-id="' + order.orderid + '"], dl[data-order-id="' + order.orderid + '"]').forEach(function (root) {
        updateOrderElement(root, order);
      });
      appendEvent(order);
      updateCounts(order);
      var onFirstPage = !/[?&]page=(?!1(&|$))/.test(location.search);
      if (!rows.length && order.event && !order.event.from_status && $("[data-live-orders]") && onFirstPage) {
        scheduleResync(); // a new order: let the server render its row
      }
    }
  };

  // --- strategy risk preview -----------------------------------------------------------------------

  function setupPreview() {
    var form = $("form[data-preview]");
    if (!form) { return; }
    var target = $("#risk-preview"), price = $("#sample_price"), timer = null, inflight = null;
    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      params.delete("csrf_token");
      params.set("sample_price", price ? price.value : "");
      if (inflight) { inflight.abort(); }
      inflight = new AbortController();
      fetch(form.getAttribute("data-preview") + "?" + params.toString(), { credentials: "same-origin", signal: inflight.signal })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { target.innerHTML = html; } }, function () { /* superseded or offline */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 200); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    if (price) { price.addEventListener("input", later); }
  }

  // --- start -----------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    setupConfirm();
    setupCopy();
    setupInlineResults();
    setupLive();
    setupPreview();
    $all("dialog[data-open-on-load]").forEach(function (dialog) { dialog.showModal(); });
  });
})();
