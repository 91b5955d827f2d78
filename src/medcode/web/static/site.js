// medcode: small enhancements over pages that work without JavaScript.
(function () {
  "use strict";
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }

  // Autocomplete: a listbox under each search box; arrows move, Enter opens, Escape closes.
  function autocomplete(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var form = input.form, timer = null, seq = 0, active = -1, items = [];
    function systems() {
      var boxes = form.querySelectorAll("input[name=system]:checked");
      return Array.prototype.map.call(boxes, function (b) { return b.value; }).join(",");
    }
    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); active = -1; }
    function mark(i) {
      items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0) { input.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({block: "nearest"}); }
    }
    function show(hits, q) {
      list.setAttribute("data-query", q);  // the query these options answer
      list.innerHTML = hits.map(function (h, i) {
        var href = (h.system === "modifier" ? "/modifiers/" : "/codes/") + encodeURIComponent(h.code);
        return '<li role="option" id="' + list.id + '-' + i + '" data-code="' + esc(h.code) + '" data-href="' + esc(href) + '" aria-selected="false">' +
          '<span class="c">' + esc(h.code) + '</span>' + esc(h.plain_description || h.description) +
          '<span class="s">' + esc(h.system) + '</span></li>';
      }).join("");
      items = Array.prototype.slice.call(list.children);
      list.hidden = hits.length === 0;
      input.setAttribute("aria-expanded", hits.length ? "true" : "false");
      active = -1;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var mine = ++seq;  // from now on, answers to earlier queries are stale: they are dropped
      var q = input.value.trim();
      if (!q) { close(); return; }
      timer = setTimeout(function () {
        var sys = systems();
        fetch("/api/autocomplete?limit=8&q=" + encodeURIComponent(q) + (sys ? "&system=" + encodeURIComponent(sys) : ""))
          .then(function (r) { return r.ok ? r.json() : {data: []}; })
          .then(function (body) { if (mine === seq && input.value.trim() === q) show(body.data || [], q); })
          .catch(function () { if (mine === seq) close(); });
      }, 60);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); mark(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); mark(Math.max(active - 1, -1)); }
      else if (e.key === "Escape") { close(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); location.href = items[active].dataset.href; }
    });
    list.addEventListener("mousedown", function (e) {
      var li = e.target.closest("li");
      if (li) { e.preventDefault(); location.href = li.dataset.href; }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  document.querySelectorAll("input[data-autocomplete]").forEach(autocomplete);

  // Claim checker: show upload progress for files, then follow the server's answer.
  var form = document.getElementById("check-form");
  if (form && window.FormData) {
    form.addEventListener("submit", function (e) {
      var file = form.querySelector("input[type=file]");
      var bar = document.getElementById("upload-progress"), status = document.getElementById("upload-status");
      var most = Number(file && file.dataset.maxBytes);
      if (file && file.files.length && most && file.files[0].size > most) {  // the server would refuse it (413)
        e.preventDefault();
        status.textContent = "The file is larger than the limit of " + Math.round(most / 1048576) + " MB.";
        return;
      }
      if (!file || !file.files.length || file.files[0].size < 1024 * 1024) return;
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      bar.hidden = false;
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); status.textContent = "Uploading: " + bar.value + "%"; }
      };
      xhr.onload = function () {
        if (xhr.responseURL && xhr.responseURL.indexOf("/check/jobs/") >= 0) { location.href = xhr.responseURL; return; }
        if (xhr.status === 413) { status.textContent = "The file is larger than the server accepts."; bar.hidden = true; return; }
        document.open(); document.write(xhr.responseText); document.close();
      };
      xhr.onerror = function () { status.textContent = "The upload failed; try again."; };
      xhr.open("POST", form.action);
      xhr.send(new FormData(form));
    });
  }

  // A running check: poll its status and reload when it ends.
  var job = document.getElementById("job");
  if (job && (job.dataset.state === "queued" || job.dataset.state === "running")) {
    var meta = document.querySelector("meta[http-equiv=refresh]");
    if (meta) meta.parentNode.removeChild(meta);
    var tick = function () {
      fetch("/check/jobs/" + job.dataset.job + "/status").then(function (r) { return r.json(); }).then(function (s) {
        if (s.state !== job.dataset.state) { location.reload(); return; }  // queued to running, or ended
        var lines = document.getElementById("job-lines"), bar = document.getElementById("job-progress");
        var place = document.getElementById("job-position");
        if (place && s.position) place.textContent = s.position;
        if (lines) lines.textContent = s.lines.toLocaleString();
        if (bar && s.total) { bar.max = s.total; bar.value = s.lines; }
        setTimeout(tick, 700);
      }).catch(function () { setTimeout(tick, 2000); });
    };
    setTimeout(tick, 700);
  }

  // Documentation audit (/audit): dictate into the note with the browser's speech recognition, where
  // it has one (the browser turns speech into text; medcode receives only the text), and copy the queries.
  var dictate = document.getElementById("dictate");
  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (dictate && Recognition) {
    var note = document.getElementById("audit-text"), said = document.getElementById("dictate-status");
    var listening = null;
    dictate.hidden = false;
    var stop = function (message) {
      listening = null;
      dictate.textContent = "Dictate";
      dictate.setAttribute("aria-pressed", "false");
      said.textContent = message || "";
    };
    dictate.addEventListener("click", function () {
      if (listening) { listening.stop(); return; }
      var r = new Recognition();
      r.lang = document.documentElement.lang === "en" ? "en-US" : document.documentElement.lang;
      r.continuous = true;
      r.interimResults = false;
      r.onresult = function (ev) {
        for (var i = ev.resultIndex; i < ev.results.length; i++) {
          if (!ev.results[i].isFinal) continue;
          var words = ev.results[i][0].transcript.trim();
          if (!words) continue;
          var before = note.value;
          note.value = before + (before && !/\s$/.test(before) ? " " : "") + words;
        }
      };
      r.onerror = function (ev) { stop("Dictation stopped: " + (ev.error || "error") + "."); };
      r.onend = function () { if (listening === r) stop("Dictation ended."); };
      try { r.start(); } catch (err) { stop("Dictation could not start."); return; }
      listening = r;
      dictate.textContent = "Stop dictation";
      dictate.setAttribute("aria-pressed", "true");
      said.textContent = "Listening: speak the note; the words are added to it as text.";
    });
  }
  var copy = document.getElementById("copy-queries");
  if (copy) {
    var asked = document.getElementById("queries-text"), copied = document.getElementById("copy-status");
    copy.hidden = false;
    var n = asked.value ? asked.value.split("\n").length : 0;
    var done = function () { copied.textContent = "Copied " + n + (n === 1 ? " query." : " queries."); };
    var fallback = function () {  // no clipboard API (or it was refused): select the text and copy it
      asked.focus();
      asked.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      if (ok) done(); else copied.textContent = "Select the queries above and copy them (Ctrl+C).";
    };
    copy.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
        navigator.clipboard.writeText(asked.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  }
})();

// CasePilot (/ask): the question form and the follow-up buttons send the question to POST /api/ask and
// the answer is added to the conversation without a reload (without JavaScript the forms post to /ask).
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  if (!form || !window.fetch) return;
  var turns = document.getElementById("turns"), status = document.getElementById("ask-status");
  var failed = document.getElementById("ask-error"), box = document.getElementById("ask-question");
  var label = form.querySelector("label[for=ask-question]");
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  function value(name) { var f = form.querySelector("[name=" + name + "]"); return f ? f.value.trim() : ""; }
  function safeLink(link) { return typeof link === "string" && /^\/(?!\/)[A-Za-z0-9._~\/%#?=&+-]*$/.test(link) ? link : null; }
  function hidden(name, v) { return '<input type="hidden" name="' + name + '" value="' + esc(v) + '">'; }
  function turn(question, a) {  // the same markup as templates/ask.html
    var h = '<p class="asked"><span class="vh">You asked: </span>' + esc(question) + '</p>';
    h += '<div class="reply conf-' + esc(a.confidence) + '"><p class="answer">' + esc(a.answer) + '</p>';
    h += '<p class="meta"><span class="confidence">Confidence: ' + esc(a.confidence) + '</span>';
    if (a.codes && a.codes.length) {
      h += ' · <span class="codes">Codes: ' + a.codes.map(function (c) {
        return '<a class="code" href="/codes/' + esc(encodeURIComponent(c)) + '">' + esc(c) + '</a>';
      }).join(", ") + '</span>';
    }
    h += '</p>';
    (a.notices || []).forEach(function (n) { h += '<p class="notice">' + esc(n) + '</p>'; });
    if (a.citations && a.citations.length) {
      h += '<p class="cite-h">Sources</p><ol class="citations">' + a.citations.map(function (c) {
        var text = esc(c.family) + ': ' + esc(c.file) + ', release ' + esc(c.release) + ', row ' + esc(c.row), href = safeLink(c.link);
        return '<li>' + (href ? '<a href="' + esc(href) + '">' + text + '</a>' : text) + '</li>';
      }).join("") + '</ol>';
    } else {
      h += '<p class="cite-h">Sources: none (no row of the knowledge base answers this)</p>';
    }
    if (a.followups && a.followups.length) {
      h += '<form class="followups" action="/ask" method="post" data-ask aria-label="Ask next">' +
        hidden("conversation_id", a.conversation_id) + hidden("date", value("date")) + hidden("zip", value("zip")) +
        a.followups.map(function (f) {
          return '<button type="submit" name="question" value="' + esc(f) + '" class="secondary followup">' + esc(f) + '</button>';
        }).join("") + '</form>';
    }
    var li = document.createElement("li");
    li.className = "turn";
    li.innerHTML = h + '</div>';
    return li;
  }
  function refuse(message) { failed.textContent = message; failed.hidden = false; status.textContent = ""; }
  function ask(question) {
    var body = {question: question, conversation_id: value("conversation_id") || null, date: value("date") || null, zip: value("zip") || null};
    if (body.zip && !/^[0-9]{5}(-?[0-9]{4})?$/.test(body.zip)) {  // the page's own words (as without JavaScript)
      refuse("The ZIP code '" + body.zip.slice(0, 20) + "' is not five digits (or ZIP+4).");
      return;
    }
    status.textContent = "Asking…";
    failed.hidden = true;
    fetch("/api/ask", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
      .then(function (got) {
        var a = got[1];
        if (!got[0]) { refuse((a.error && a.error.message) || "The question could not be answered."); return; }
        var li = turn(question, a);
        turns.appendChild(li);
        form.querySelector("[name=conversation_id]").value = a.conversation_id;
        var examples = document.getElementById("examples");
        if (examples) examples.hidden = true;
        if (label) label.textContent = "Ask a follow-up question";
        box.value = "";
        status.textContent = "Answered.";
        li.scrollIntoView({block: "nearest"});
        box.focus();
      })
      .catch(function () {  // no answer from the server: send the form the way it works without JavaScript
        box.value = question;
        form.submit();
      });
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f || !f.hasAttribute || !f.hasAttribute("data-ask")) return;
    var q = f === form ? box.value : (e.submitter && e.submitter.value) || "";
    if (!q.trim()) return;  // the server says what is missing
    e.preventDefault();
    ask(q.trim());
  });
})();
