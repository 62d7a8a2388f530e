/* Herald web SDK. Plain JavaScript, no build step: <script src="https://HERALD/sdk/web/herald.js"></script>
 * then herald.init({ appKey: "hsk_..." }). Docs: docs/web-sdk.md in the Herald repository. */
(function (global) {
  'use strict';

  var PREFIX = 'herald:';
  var MAX_BATCH = 100;
  var MAX_QUEUE = 1000;
  var MAX_BACKOFF_MS = 60000;
  var UTM_KEYS = ['source', 'medium', 'campaign', 'term', 'content'];
  var script = document.currentScript;

  var s = {
    options: null, endpoint: null, config: null, widgets: [],
    flushing: false, again: false, failures: 0, retryTimer: null, registration: null,
    readyResolve: null
  };
  var ready = new Promise(function (resolve) { s.readyResolve = resolve; });

  // ---------- storage (local storage: first-party, survives reloads, no cookies) ----------
  function get(key, fallback) {
    try {
      var raw = global.localStorage.getItem(PREFIX + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }
  function put(key, value) {
    try {
      if (value === undefined || value === null) global.localStorage.removeItem(PREFIX + key);
      else global.localStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: keep going in memory */ }
  }
  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    var b = new Uint8Array(16);
    global.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // The service worker cannot read local storage; it finds the endpoint, key and installation here.
  function shareWithWorker(values) {
    if (!global.indexedDB) return;
    var open = global.indexedDB.open('herald', 1);
    open.onupgradeneeded = function () { open.result.createObjectStore('kv'); };
    open.onsuccess = function () {
      var tx = open.result.transaction('kv', 'readwrite');
      Object.keys(values).forEach(function (k) { tx.objectStore('kv').put(values[k], k); });
      tx.oncomplete = function () { open.result.close(); };
    };
  }

  // ---------- HTTP ----------
  function call(method, path, body) {
    return fetch(s.endpoint + path, {
      method: method,
      headers: body ? { 'Content-Type': 'application/json', 'X-Herald-Key': s.options.appKey } : { 'X-Herald-Key': s.options.appKey },
      body: body ? JSON.stringify(body) : undefined,
      keepalive: !!body && JSON.stringify(body).length < 60000
    }).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        if (!res.ok) {
          var err = new Error((json && json.detail) || ('HTTP ' + res.status));
          err.status = res.status; err.problem = json;
          throw err;
        }
        return json;
      });
    });
  }
  // Client errors other than 408/429 will fail again unchanged: dropping them keeps the queue moving.
  function permanent(err) { return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429; }

  // ---------- identity ----------
  function anonymousId() {
    var id = get('anonymousId', null);
    if (!id) { id = uuid(); put('anonymousId', id); put('firstVisit', true); }
    return id;
  }
  function installations() { return get('installations', {}); }
  function installationFor(aid) { return installations()[aid] || null; }

  // Registers (or updates) the device of one anonymous id; pending changes (push subscription,
  // push state) ride along and are cleared once Herald has them.
  function ensureDevice(aid) {
    var patch = get('devicePatch', null);
    var known = installationFor(aid);
    if (known && (!patch || aid !== get('anonymousId', null))) return Promise.resolve(known);
    var body = {
      platform: 'web', anonymousId: aid,
      timezone: safeTimezone(), locale: navigator.language || undefined,
      appVersion: s.options.appVersion || undefined,
      osVersion: (navigator.userAgent || '').slice(0, 64)
    };
    if (known) body.installationId = known;
    if (patch && aid === get('anonymousId', null)) Object.keys(patch).forEach(function (k) { body[k] = patch[k]; });
    return call('POST', '/sdk/v1/devices', body).then(function (r) {
      var all = installations();
      all[aid] = r.installationId;
      put('installations', all);
      if (patch && aid === get('anonymousId', null) && JSON.stringify(get('devicePatch', null)) === JSON.stringify(patch)) put('devicePatch', null);
      if (aid === get('anonymousId', null)) shareWithWorker({ endpoint: s.endpoint, appKey: s.options.appKey, installationId: r.installationId });
      return r.installationId;
    });
  }
  function safeTimezone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined; } catch (e) { return undefined; }
  }
  function patchDevice(fields) {
    var patch = get('devicePatch', null) || {};
    Object.keys(fields).forEach(function (k) { patch[k] = fields[k]; });
    put('devicePatch', patch);
    flush();
  }

  // ---------- the queue: events and identifies, in order, with their original times ----------
  function enqueue(item) {
    var q = get('queue', []);
    item.id = item.id || uuid();
    item.aid = item.aid || anonymousId();
    q.push(item);
    if (q.length > MAX_QUEUE) q = q.slice(q.length - MAX_QUEUE);
    put('queue', q);
    flush();
    return item.id;
  }
  function remove(ids) {
    var drop = {};
    ids.forEach(function (id) { drop[id] = true; });
    put('queue', get('queue', []).filter(function (x) { return !drop[x.id]; }));
  }

  function flush() {
    if (!s.options) return Promise.resolve();
    if (s.flushing) { s.again = true; return Promise.resolve(); }
    s.flushing = true;
    return step().then(function () {
      s.failures = 0;
    }, function (err) {
      s.failures++;
      var wait = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, s.failures - 1));
      wait = wait / 2 + Math.random() * wait / 2;
      if (s.retryTimer) clearTimeout(s.retryTimer);
      s.retryTimer = setTimeout(function () { s.retryTimer = null; flush(); }, wait);
      if (s.options.debug) console.warn('herald: will retry in ' + Math.round(wait) + ' ms:', err && err.message);
    }).then(function () {
      s.flushing = false;
      if (s.again && s.failures === 0) { s.again = false; return flush(); }
      s.again = false;
    });
  }

  // Sends what is queued, oldest first, one anonymous id and one kind at a time.
  function step() {
    var q = get('queue', []);
    var current = get('anonymousId', null);
    if (q.length === 0) {
      return get('devicePatch', null) && current ? ensureDevice(current).then(function () { }) : Promise.resolve();
    }
    var head = q[0];
    return ensureDevice(head.aid).then(function (installationId) {
      if (head.kind === 'identify') {
        var body = { installationId: installationId, externalId: head.externalId };
        Object.keys(head.traits || {}).forEach(function (k) { body[k] = head.traits[k]; });
        return call('POST', '/sdk/v1/identify', body).then(
          function () { remove([head.id]); },
          function (err) { if (permanent(err)) { warn('identify refused', err); remove([head.id]); } else throw err; });
      }
      var batch = [];
      for (var i = 0; i < q.length && batch.length < MAX_BATCH; i++) {
        if (q[i].kind !== 'event' || q[i].aid !== head.aid) break;
        batch.push(q[i]);
      }
      var events = batch.map(function (x) {
        var e = { messageId: x.id, name: x.name, timestamp: x.at, attributes: x.attributes || {} };
        if (x.utm) e.utm = x.utm;
        return e;
      });
      var ids = batch.map(function (x) { return x.id; });
      return call('POST', '/sdk/v1/events', { installationId: installationId, sentAt: Date.now(), events: events }).then(
        function (r) { if (r && r.rejected && r.rejected.length) warn('events refused', r.rejected); remove(ids); },
        function (err) { if (permanent(err)) { warn('events refused', err); remove(ids); } else throw err; });
    }).then(function () {
      if (get('queue', []).length > 0) return step();
    });
  }
  function warn(what, detail) { if (global.console) console.warn('herald: ' + what, detail && (detail.problem || detail)); }

  // ---------- public API ----------
  function utmFrom(url) {
    var params;
    try { params = new URL(url).searchParams; } catch (e) { return null; }
    var utm = null;
    UTM_KEYS.forEach(function (k) {
      var v = params.get('utm_' + k);
      if (v) { utm = utm || {}; utm[k] = v.slice(0, 200); }
    });
    return utm;
  }

  function track(name, attributes, extra) {
    if (!name || typeof name !== 'string') throw new Error('herald.track: name is required');
    var item = { kind: 'event', name: name, attributes: attributes || {}, at: Date.now() };
    if (extra && extra.utm) item.utm = extra.utm;
    var id = enqueue(item);
    if (s.options) showWidgetsFor(name);
    return id;
  }

  function page(attributes) {
    var a = { url: location.href, path: location.pathname, title: document.title || undefined, referrer: document.referrer || undefined };
    Object.keys(attributes || {}).forEach(function (k) { a[k] = attributes[k]; });
    var utm = utmFrom(location.href);
    if (utm) put('lastUtm', utm);
    return track('page_view', a, { utm: utm });
  }

  function identify(externalId, traits) {
    if (!externalId) throw new Error('herald.identify: externalId is required');
    var t = {};
    var attributes = {};
    Object.keys(traits || {}).forEach(function (k) {
      if (k === 'email' || k === 'phone' || k === 'optIn') t[k] = traits[k];
      else attributes[k] = traits[k];
    });
    if (Object.keys(attributes).length) t.attributes = attributes;
    put('externalId', externalId);
    enqueue({ kind: 'identify', externalId: String(externalId), traits: t });
  }

  // On logout: a new anonymous visitor from here on, so the next person on this browser is not merged
  // into the last one. What was queued before still goes out under the old id.
  function reset() {
    put('externalId', null);
    put('anonymousId', null);
    put('devicePatch', null);
    anonymousId();
    put('firstVisit', null);
    flush();
  }

  function init(options) {
    if (!options || !options.appKey) throw new Error('herald.init: appKey is required');
    if (s.options) return ready;
    s.options = options;
    var fromScript = script && script.src ? new URL(script.src).origin : location.origin;
    s.endpoint = (options.endpoint || fromScript).replace(/\/+$/, '');
    var aid = anonymousId();
    var session = global.sessionStorage;

    if (get('firstVisit', false)) { track('first_visit', {}); put('firstVisit', null); }
    var opened = false;
    try { opened = session.getItem(PREFIX + 'opened') === '1'; session.setItem(PREFIX + 'opened', '1'); } catch (e) { opened = false; }
    if (!opened) track('web_open', { url: location.href }, { utm: utmFrom(location.href) });
    if (options.autoPageView !== false) page();

    global.addEventListener('online', function () { s.failures = 0; flush(); });
    document.addEventListener('visibilitychange', function () { if (document.visibilityState === 'visible') flush(); });

    var configured = call('GET', '/sdk/v1/config').then(function (c) { s.config = c; }, function (err) { warn('config unavailable', err); });
    var widgets = ensureDevice(aid).then(loadWidgets, function () { });
    configured.then(function () { return pushStart(); }).then(null, function (err) { warn('push', err); });
    Promise.all([configured, widgets]).then(function () { s.readyResolve(); });
    return ready;
  }

  // ---------- web push ----------
  function pushSupported() {
    return 'serviceWorker' in navigator && 'PushManager' in global && 'Notification' in global;
  }
  function workerUrl() {
    return s.options.serviceWorkerUrl || (s.endpoint + '/sdk/web/herald-sw.js');
  }
  function registerWorker() {
    if (s.registration) return Promise.resolve(s.registration);
    return navigator.serviceWorker.register(workerUrl(), { scope: s.options.serviceWorkerScope || '/' })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (reg) { s.registration = reg; return reg; });
  }
  function keyBytes(base64url) {
    var pad = '='.repeat((4 - base64url.length % 4) % 4);
    var raw = atob((base64url + pad).replace(/-/g, '+').replace(/_/g, '/'));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // At start: a revoked permission or a lost subscription is reported; a granted one is kept registered;
  // otherwise the opt-in prompt may show.
  function pushStart() {
    if (!pushSupported() || !s.config) return Promise.resolve();
    var permission = Notification.permission;
    var wasEnabled = get('pushEndpoint', null) !== null;
    if (permission === 'granted') {
      return registerWorker().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
        if (sub) return remember(sub);
        if (wasEnabled) disabled('subscription_lost');
        return subscribe();
      });
    }
    if (wasEnabled) disabled(permission === 'denied' ? 'permission_revoked' : 'permission_reset');
    if (permission === 'default' && s.config.optInPrompt && s.config.optInPrompt.enabled && s.options.optInPrompt !== false) {
      var until = get('promptLaterUntil', 0);
      if (Date.now() >= until) setTimeout(showPrompt, Math.max(0, s.config.optInPrompt.delaySeconds) * 1000);
    }
    return Promise.resolve();
  }

  function subscribe() {
    if (!pushSupported()) return Promise.reject(new Error('Web push is not supported in this browser'));
    return Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') {
        if (get('pushEndpoint', null) !== null) disabled('permission_denied');
        return null;
      }
      return registerWorker().then(function (reg) {
        return reg.pushManager.getSubscription().then(function (existing) {
          return existing || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(s.config.vapidPublicKey) });
        });
      }).then(remember);
    });
  }

  function remember(sub) {
    var json = sub.toJSON();
    if (get('pushEndpoint', null) !== json.endpoint) {
      put('pushEndpoint', json.endpoint);
      patchDevice({ webPush: { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth }, pushEnabled: true });
      track('push_enabled', {});
    }
    return sub;
  }

  function disabled(reason) {
    put('pushEndpoint', null);
    patchDevice({ pushEnabled: false });
    track('push_disabled', { reason: reason });
  }

  function unsubscribe() {
    if (!pushSupported()) return Promise.resolve(false);
    return registerWorker().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      return (sub ? sub.unsubscribe() : Promise.resolve(true)).then(function () {
        if (get('pushEndpoint', null) !== null) disabled('unsubscribed');
        return true;
      });
    });
  }

  // ---------- overlays: the opt-in box and widgets never push the page's content around ----------
  var STYLE = '.herald-overlay{position:fixed;z-index:2147483000;box-sizing:border-box;max-width:min(420px,calc(100vw - 32px));' +
    'padding:20px;border-radius:12px;box-shadow:0 8px 32px rgba(0,0,0,.25);font:15px/1.4 system-ui,sans-serif;background:#fff;color:#111}' +
    '.herald-overlay h2{margin:0 0 8px;font-size:18px}.herald-overlay p{margin:0 0 16px}' +
    '.herald-overlay img,.herald-overlay video{display:block;max-width:100%;border-radius:8px;margin:0 0 12px}' +
    '.herald-overlay .herald-buttons{display:flex;gap:8px;justify-content:flex-end;flex-wrap:wrap}' +
    '.herald-overlay button{font:inherit;padding:8px 14px;border-radius:8px;border:0;cursor:pointer;background:#1a73e8;color:#fff}' +
    '.herald-overlay button.herald-secondary{background:transparent;color:inherit;border:1px solid currentColor}' +
    '.herald-overlay .herald-close{position:absolute;top:6px;right:8px;background:transparent;color:inherit;padding:4px 8px;font-size:18px}' +
    '.herald-pos-center{top:50%;left:50%;transform:translate(-50%,-50%)}.herald-pos-top{top:16px;left:50%;transform:translateX(-50%)}' +
    '.herald-pos-bottom{bottom:16px;left:50%;transform:translateX(-50%)}.herald-pos-bottom-right{bottom:16px;right:16px}' +
    '.herald-pos-bottom-left{bottom:16px;left:16px}';
  function addStyle() {
    if (document.getElementById('herald-style')) return;
    var el = document.createElement('style');
    el.id = 'herald-style';
    el.textContent = STYLE;
    document.head.appendChild(el);
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  // A dialog: role=dialog with its title as label, focus moves in and returns on close, Escape closes.
  function overlay(id, position, title, onClose) {
    addStyle();
    var previous = document.activeElement;
    var box = el('div', { id: id, role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': id + '-title', tabindex: '-1', 'class': 'herald-overlay herald-pos-' + position });
    if (title) box.appendChild(el('h2', { id: id + '-title' }, title));
    function close(how) {
      document.removeEventListener('keydown', onKey, true);
      if (box.parentNode) box.parentNode.removeChild(box);
      if (previous && previous.focus) previous.focus();
      onClose(how);
    }
    function onKey(e) { if (e.key === 'Escape' && box.parentNode) { e.stopPropagation(); close('escape'); } }
    document.addEventListener('keydown', onKey, true);
    return { box: box, close: close, open: function () { document.body.appendChild(box); var f = box.querySelector('button') || box; f.focus(); } };
  }

  function showPrompt() {
    if (Notification.permission !== 'default' || document.getElementById('herald-optin')) return;
    var p = s.config.optInPrompt;
    var decided = false;
    var o = overlay('herald-optin', 'top', p.title, function (how) {
      if (!decided) later(how);
    });
    o.box.appendChild(el('p', null, p.text));
    var buttons = el('div', { 'class': 'herald-buttons' });
    var no = el('button', { type: 'button', 'class': 'herald-secondary', 'data-herald': 'later' }, p.laterText);
    var yes = el('button', { type: 'button', 'data-herald': 'accept' }, p.acceptText);
    buttons.appendChild(no); buttons.appendChild(yes);
    o.box.appendChild(buttons);
    function later(how) {
      put('promptLaterUntil', Date.now() + p.laterDays * 86400000);
      track('optin_prompt_later', { how: how });
    }
    no.addEventListener('click', function () { o.close('later'); });
    yes.addEventListener('click', function () {
      decided = true;
      o.close('accept');
      track('optin_prompt_accepted', {});
      subscribe().then(null, function (err) { warn('subscribe failed', err); });
    });
    o.open();
    track('optin_prompt_shown', {});
  }

  // ---------- widgets ----------
  function loadWidgets(installationId) {
    return call('GET', '/sdk/v1/widgets?installationId=' + encodeURIComponent(installationId)).then(function (r) {
      s.widgets = (r && r.widgets) || [];
      showWidgetsFor(null);
    }, function (err) { warn('widgets unavailable', err); });
  }

  function escapeRegex(text) { return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); }
  function matches(pattern, url) {
    if (!pattern) return true;
    var target = pattern.charAt(0) === '/' ? url.pathname + url.search : url.href;
    var re = new RegExp('^' + pattern.split('*').map(escapeRegex).join('.*') + '$');
    return re.test(target) || (pattern.charAt(0) === '/' && re.test(url.pathname));
  }
  function allowedByFrequency(w) {
    var f = w.rules.frequency;
    if (f === 'once') return !get('widgetSeen:' + w.id, false);
    if (f === 'once_per_session') {
      try { return global.sessionStorage.getItem(PREFIX + 'widgetSeen:' + w.id) !== '1'; } catch (e) { return true; }
    }
    return true;
  }
  function showWidgetsFor(eventName) {
    var url = new URL(location.href);
    s.widgets.forEach(function (w) {
      var trigger = w.rules.triggerEvent;
      var due = eventName === null ? (!trigger || trigger === 'page_view') : trigger === eventName && eventName !== 'page_view';
      if (!due || !matches(w.rules.urlPattern, url) || !allowedByFrequency(w)) return;
      if (w.rules.endAt && Date.now() >= w.rules.endAt) return;
      if (document.getElementById('herald-widget-' + w.id)) return;
      renderWidget(w);
    });
  }

  function renderWidget(w) {
    var l = w.layout;
    var id = 'herald-widget-' + w.id;
    var acted = false;
    var o = overlay(id, l.position || 'center', l.title, function (how) {
      if (!acted) track('widget_action', { widget_id: w.id, action: 'close', how: how });
    });
    var c = l.colors || {};
    if (c.background) o.box.style.background = c.background;
    if (c.text) o.box.style.color = c.text;
    var x = el('button', { type: 'button', 'class': 'herald-close', 'aria-label': 'Close' }, '\u00d7');
    x.addEventListener('click', function () { o.close('close_button'); });
    o.box.appendChild(x);
    if (l.imageUrl) o.box.appendChild(el('img', { src: l.imageUrl, alt: '' }));
    if (l.videoUrl) { var v = el('video', { src: l.videoUrl, controls: '', playsinline: '', muted: '' }); o.box.appendChild(v); }
    if (l.text) o.box.appendChild(el('p', null, l.text));
    var row = el('div', { 'class': 'herald-buttons' });
    (l.buttons || []).forEach(function (b, i) {
      var btn = el('button', { type: 'button', 'data-herald-action': b.action }, b.text);
      if (c.button) btn.style.background = c.button;
      if (c.buttonText) btn.style.color = c.buttonText;
      btn.addEventListener('click', function () {
        acted = true;
        track('widget_action', { widget_id: w.id, action: b.action, button: i, text: b.text, target: b.target || undefined });
        o.close(b.action);
        // The event is stored locally already; leave once it is sent, or after a second at most.
        if (b.action === 'url' || b.action === 'deeplink') {
          Promise.race([flush(), new Promise(function (r) { setTimeout(r, 1000); })]).then(function () { location.href = b.target; });
        }
      });
      row.appendChild(btn);
    });
    o.box.appendChild(row);
    o.open();
    put('widgetSeen:' + w.id, true);
    try { global.sessionStorage.setItem(PREFIX + 'widgetSeen:' + w.id, '1'); } catch (e) { /* private mode */ }
    track('widget_shown', { widget_id: w.id, url: location.href });
  }

  // Geofences: a browser watches no regions by itself, so the page checks when it wants to (a store
  // locator, a check-in button, a timer). The position goes to Herald, which keeps it as the
  // device's location and answers the fences containing it; the fences entered and left since the
  // last check are tracked as geofence_enter / geofence_exit (their campaigns and segments follow).
  function currentPosition() {
    return new Promise(function (resolve, reject) {
      if (!global.navigator.geolocation) { reject(new Error('geolocation is not available')); return; }
      global.navigator.geolocation.getCurrentPosition(resolve, reject, { maximumAge: 0, timeout: 15000 });
    });
  }

  function checkLocation(position) {
    return (position ? Promise.resolve(position) : currentPosition()).then(function (p) {
      var c = p.coords || p;
      return ready.then(function () { return ensureDevice(anonymousId()); }).then(function (installationId) {
        return call('POST', '/sdk/v1/geofences/nearby', { installationId: installationId, latitude: c.latitude, longitude: c.longitude });
      }).then(function (r) {
        var before = get('geofencesInside', []);
        var now = r.inside || [];
        var names = {};
        (r.fences || []).forEach(function (f) { names[f.id] = f.name; });
        now.filter(function (id) { return before.indexOf(id) < 0; })
          .forEach(function (id) { track('geofence_enter', { geofence_id: id, geofence_name: names[id] }); });
        before.filter(function (id) { return now.indexOf(id) < 0; })
          .forEach(function (id) { track('geofence_exit', { geofence_id: id }); });
        put('geofencesInside', now);
        flush();
        return { inside: now, fences: r.fences || [] };
      });
    });
  }

  global.herald = {
    init: init, track: track, page: page, identify: identify, reset: reset, flush: flush, checkLocation: checkLocation,
    subscribe: subscribe, unsubscribe: unsubscribe, showOptInPrompt: function () { return ready.then(showPrompt); },
    ready: function () { return ready; },
    get anonymousId() { return get('anonymousId', null); },
    get installationId() { var a = get('anonymousId', null); return a ? installationFor(a) : null; },
    get queued() { return get('queue', []).length; }
  };
})(window);
