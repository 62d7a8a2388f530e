// Campaign wizard: only the chosen channel's fields (hidden ones are disabled so they are not posted),
// language rows, and the live preview: the phone shows what is typed at once; the server then counts
// the audience and, for a chosen user, renders the unsaved form exactly as it would be sent.
(() => {
  const form = document.getElementById('campaign-form');
  const channel = document.getElementById('channel');
  if (!form || !channel) return;

  const sync = () => {
    for (const box of form.querySelectorAll('[data-for]')) {
      const on = box.dataset.for.split(' ').includes(channel.value);
      box.hidden = !on;
      for (const el of box.querySelectorAll('input, textarea, select')) el.disabled = !on;
    }
  };

  const rows = document.getElementById('locales');
  const add = document.getElementById('add-locale');
  if (rows && add) {
    add.hidden = false;
    add.addEventListener('click', () => {
      const last = rows.lastElementChild;
      const row = last.cloneNode(true);
      for (const el of row.querySelectorAll('input, textarea')) el.value = '';
      rows.appendChild(row);
      sync();
      row.querySelector('input').focus();
    });
  }

  const phone = document.getElementById('live-preview');
  const note = document.getElementById('preview-note');
  const who = document.getElementById('preview-for');
  const size = document.getElementById('wizard-audience');
  const slot = name => phone && phone.querySelector(`[data-preview="${name}"]`);
  const value = name => {
    const el = form.querySelector(`[name="${name}"]:not(:disabled)`);
    return el ? el.value.trim() : '';
  };
  const textOf = html => new DOMParser().parseFromString(html || '', 'text/html').body.textContent.trim();
  const show = (title, body, url) => {
    if (!phone) return;
    phone.dataset.channel = channel.value;
    slot('title').textContent = title;
    slot('body').textContent = body;
    slot('url').textContent = url ? 'opens ' + url : '';
  };
  const local = () => {
    if (channel.value === 'email') show(value('subject'), value('text') || textOf(value('html')), '');
    else if (channel.value === 'sms') show('', value('body'), '');
    else show(value('title'), value('body'), value('url'));
  };
  const say = (text, bad) => {
    if (!note) return;
    note.textContent = text;
    note.classList.toggle('err', !!bad);
  };

  let timer = 0, seq = 0;
  const ask = async () => {
    const mine = ++seq;
    try {
      const res = await fetch(form.dataset.preview, {
        method: 'POST', body: new FormData(form), credentials: 'same-origin', headers: { Accept: 'application/json' },
      });
      if (!res.ok) throw new Error('status ' + res.status);
      const r = await res.json();
      if (mine !== seq) return; // a newer answer is on its way
      if (size) size.textContent = r.audience === null ? '–' : new Intl.NumberFormat('en-US').format(r.audience);
      if (size) size.title = r.audienceError || '';
      if (!r.previewFor) { local(); say('Shows what you type. Enter a user to see their own version (their attributes and language).'); return; }
      if (r.previewError) { local(); say(r.previewError, true); return; }
      const p = r.preview, f = p.rendered;
      if (p.skipped) { local(); say(`${r.previewFor} would be skipped: ${p.skipReason}.`, true); return; }
      if (channel.value === 'email') show(f.subject || '', f.text || textOf(f.html), '');
      else show(f.title || '', f.body || '', f.url || '');
      say(`As ${r.previewFor} will see it` + (p.locale ? ` (language ${p.locale})` : '') + '.');
    } catch (e) {
      say('Preview unavailable (' + e.message + ').', true);
    }
  };
  const changed = () => {
    if (!who || !who.value.trim()) local(); // a chosen user's version stays until the server's new one

    clearTimeout(timer);
    timer = setTimeout(ask, 350);
  };

  // The trigger's own fields: only those the chosen trigger type uses are shown (the server reads only those).
  const triggerType = document.getElementById('trigger-type');
  const syncTrigger = () => {
    if (!triggerType) return;
    for (const el of form.querySelectorAll('[data-trigger]')) el.hidden = !el.dataset.trigger.split(' ').includes(triggerType.value);
  };
  if (triggerType) triggerType.addEventListener('change', syncTrigger);
  syncTrigger();

  // The trigger and recurrence blocks show only when their way of sending is chosen.
  const blocks = { trigger: document.getElementById('trigger'), recurring: document.getElementById('recurrence') };
  const syncSchedule = () => {
    const chosen = form.querySelector('input[name=schedule]:checked');
    for (const [value, el] of Object.entries(blocks)) if (el) el.hidden = !(chosen && chosen.value === value);
  };
  for (const radio of form.querySelectorAll('input[name=schedule]')) radio.addEventListener('change', syncSchedule);
  syncSchedule();

  channel.addEventListener('change', sync);
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  sync();
  local();
  ask();
})();
