/* Herald web push service worker. Registered by herald.js; it must be served from a path whose scope
 * covers the site (Herald sends Service-Worker-Allowed: /, or copy it to your site's root). */
'use strict';

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

// herald.js writes the endpoint, SDK key and installation id here (workers cannot read local storage).
function settings() {
  return new Promise(function (resolve) {
    var open = indexedDB.open('herald', 1);
    open.onupgradeneeded = function () { open.result.createObjectStore('kv'); };
    open.onerror = function () { resolve({}); };
    open.onsuccess = function () {
      var db = open.result;
      var out = {};
      var tx = db.transaction('kv', 'readonly');
      ['endpoint', 'appKey', 'installationId'].forEach(function (k) {
        var r = tx.objectStore('kv').get(k);
        r.onsuccess = function () { out[k] = r.result; };
      });
      tx.oncomplete = function () { db.close(); resolve(out); };
      tx.onerror = function () { db.close(); resolve(out); };
    };
  });
}

function newId() {
  return self.crypto.randomUUID ? self.crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2);
}

// Reports one event now, retrying a few times with back-off; the message id keeps retries single.
function report(name, attributes) {
  return settings().then(function (c) {
    if (!c.endpoint || !c.appKey || !c.installationId) return;
    var body = JSON.stringify({
      installationId: c.installationId, sentAt: Date.now(),
      events: [{ messageId: newId(), name: name, timestamp: Date.now(), attributes: attributes }]
    });
    function attempt(n) {
      return fetch(c.endpoint + '/sdk/v1/events', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Herald-Key': c.appKey }, body: body
      }).then(function (res) {
        if (res.status >= 500 || res.status === 429) throw new Error('HTTP ' + res.status);
      }).catch(function (err) {
        if (n >= 3) return;
        return new Promise(function (r) { setTimeout(r, 1000 * Math.pow(2, n)); }).then(function () { return attempt(n + 1); });
      });
    }
    return attempt(0);
  });
}

self.addEventListener('push', function (event) {
  var p = {};
  try { p = event.data ? event.data.json() : {}; } catch (e) { p = { body: event.data ? event.data.text() : '' }; }
  var messageId = p.message_id || null;
  var options = {
    body: p.body || '',
    icon: p.icon || undefined,
    image: p.image || undefined,
    tag: messageId || undefined,
    data: { url: p.url || null, messageId: messageId, data: p.data || {}, actions: p.actions || [] },
    actions: (p.actions || []).map(function (a) { return { action: a.action, title: a.title }; })
  };
  event.waitUntil(Promise.all([
    self.registration.showNotification(p.title || '', options),
    report('push_received', { message_id: messageId })
  ]));
});

self.addEventListener('notificationclick', function (event) {
  var n = event.notification;
  var d = n.data || {};
  var url = d.url;
  var action = event.action || null;
  if (action) {
    var button = (d.actions || []).filter(function (a) { return a.action === action; })[0];
    if (button && button.type === 'dismiss') url = null;
    else if (button && button.target) url = button.target;
  }
  n.close();
  var open = url
    ? self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (list) {
        for (var i = 0; i < list.length; i++) if (list[i].url === url && list[i].focus) return list[i].focus();
        return self.clients.openWindow(url);
      }).catch(function () { })
    : Promise.resolve();
  var attributes = { message_id: d.messageId || null };
  if (action) attributes.action = action;
  if (url) attributes.url = url;
  event.waitUntil(Promise.all([open, report('push_clicked', attributes)]));
});

self.addEventListener('notificationclose', function (event) {
  var d = event.notification.data || {};
  event.waitUntil(report('push_dismissed', { message_id: d.messageId || null }));
});
