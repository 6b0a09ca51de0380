// The demo page's tus 1.0 client: creation (POST) and the core protocol
// (HEAD, PATCH), written for this page with no libraries.
//
// One upload runs at a time. Its bytes go in PATCH requests of at most
// CHUNK_SIZE, sent with XMLHttpRequest so that progress shows within a
// request. Pause aborts the running request; the server keeps what it had
// read. Resume asks the server with HEAD how much it has and goes on from
// there. The upload's URL is remembered in localStorage, so a page reload
// can resume it too.
'use strict';

(function () {
  const TUS_VERSION = '1.0.0';
  const CHUNK_SIZE = 8 * 1024 * 1024;
  // Network errors are retried after these pauses, then reported.
  const RETRY_DELAYS_MS = [1000, 3000, 6000];
  // The speed shown is the average over this last stretch of time.
  const SPEED_WINDOW_MS = 3000;

  const root = document.getElementById('demo');
  const endpoint = new URL(root.dataset.uploadPath, location.href).href;
  const ui = {};
  for (const id of ['file', 'start', 'pause', 'resume', 'bar', 'percent',
    'bytes', 'speed', 'status', 'result', 'link']) {
    ui[id] = document.getElementById(id);
  }

  // The upload of the chosen file, or null. Its gen counts the runs and
  // pauses: a run whose gen is no longer current stops without a word.
  let up = null;

  // --- helpers ---

  function formatBytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }

  // base64 of the UTF-8 bytes of s, as Upload-Metadata wants.
  function base64(s) {
    let bin = '';
    for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  function metadata(file) {
    const pairs = ['filename ' + base64(file.name)];
    if (file.type) pairs.push('filetype ' + base64(file.type));
    return pairs.join(',');
  }

  function storageKey(file) {
    return 'tusd-demo ' + JSON.stringify([endpoint, file.name, file.size, file.lastModified]);
  }

  // localStorage may be unavailable (private modes, policies): then a
  // reload cannot resume, and that is all.
  function recall(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  function remember(key, url) {
    try {
      if (url) localStorage.setItem(key, url);
      else localStorage.removeItem(key);
    } catch (e) { /* see recall */ }
  }

  // The header as a non-negative integer, or NaN.
  function intHeader(xhr, name) {
    const v = xhr.getResponseHeader(name);
    return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  }

  // An error for a response the client did not expect: its status and the
  // first line of the server's message.
  function httpError(xhr) {
    const line = (xhr.responseText || '').trim().split('\n')[0].slice(0, 200);
    const err = new Error('Error ' + xhr.status + ': ' + (line || xhr.statusText || 'unexpected response'));
    // Offset mismatch, upload busy, proxy trouble: asking again may help.
    err.retryable = [409, 423, 502, 503, 504].includes(xhr.status);
    return err;
  }

  // --- the view ---

  function setStatus(text, kind) {
    // Unchanged text is left alone, so screen readers do not repeat it.
    if (ui.status.textContent !== text) ui.status.textContent = text;
    ui.status.className = kind || '';
  }

  // state is one of idle, running, paused, failed, done. A button that
  // had the keyboard focus and is now disabled hands it to the next one
  // that makes sense, so keyboard users are not thrown back to the top.
  function setState(state) {
    const focused = document.activeElement;
    root.dataset.state = state;
    ui.start.disabled = !(state === 'idle' && up);
    ui.pause.disabled = state !== 'running';
    ui.resume.disabled = !(state === 'paused' || state === 'failed');
    ui.file.disabled = state === 'running';
    if (focused && focused.disabled) {
      const next = { running: ui.pause, paused: ui.resume, failed: ui.resume, done: ui.link }[state];
      if (next && !next.disabled) next.focus();
    }
  }

  // showProgress shows sent bytes of u; done marks an empty file complete.
  function showProgress(u, sent, done) {
    const size = u.file.size;
    const fraction = size ? sent / size : (done ? 1 : 0);
    ui.bar.value = fraction; // its max is 1
    ui.percent.textContent = Math.floor(fraction * 100) + '%';
    ui.bytes.textContent = formatBytes(sent) + ' of ' + formatBytes(size);
  }

  function showSpeed(u, sent) {
    const now = performance.now();
    u.samples.push([now, sent]);
    while (u.samples.length > 2 && now - u.samples[1][0] > SPEED_WINDOW_MS) u.samples.shift();
    const [t0, b0] = u.samples[0];
    if (now - t0 >= 250 && sent >= b0) {
      ui.speed.textContent = ((sent - b0) / (now - t0) / 1000).toFixed(1) + ' MB/s';
    }
  }

  function clearSpeed(u) {
    u.samples = [];
    ui.speed.textContent = '– MB/s';
  }

  // --- the protocol ---

  // send makes one request of upload u and resolves with the finished
  // XMLHttpRequest, whatever its status; it rejects on a network error
  // (retryable) or an abort.
  function send(u, method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
      for (const name in headers) xhr.setRequestHeader(name, headers[name]);
      if (onProgress) xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () {
        const err = new Error('Network error: the server cannot be reached');
        err.retryable = true;
        reject(err);
      };
      xhr.onabort = function () { reject(new Error('aborted')); };
      u.xhr = xhr;
      xhr.send(body === undefined ? null : body);
    });
  }

  // create makes the upload on the server (POST).
  async function create(u, alive) {
    setStatus('Creating the upload…');
    const xhr = await send(u, 'POST', endpoint, {
      'Upload-Length': String(u.file.size),
      'Upload-Metadata': metadata(u.file),
    });
    if (!alive()) return;
    const location = xhr.getResponseHeader('Location');
    if (xhr.status !== 201) throw httpError(xhr);
    if (!location) throw new Error('Error 201: the server sent no Location');
    const url = new URL(location, endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Error 201: the server sent a bad Location');
    u.url = url.href;
    u.offset = 0;
    remember(u.key, u.url);
  }

  // sync asks the server how much of the upload it has (HEAD), or creates
  // the upload anew if the server no longer knows it.
  async function sync(u, alive) {
    setStatus('Asking the server how much it has…');
    const xhr = await send(u, 'HEAD', u.url, {});
    if (!alive()) return;
    const offset = intHeader(xhr, 'Upload-Offset');
    const length = intHeader(xhr, 'Upload-Length');
    if ([403, 404, 410].includes(xhr.status) || (xhr.status === 200 && length !== u.file.size)) {
      remember(u.key, null);
      u.url = null;
      await create(u, alive);
      return;
    }
    if (xhr.status !== 200) throw httpError(xhr);
    if (!(offset <= u.file.size)) throw new Error('Error: the server sent a bad Upload-Offset');
    u.offset = offset;
    showProgress(u, offset);
  }

  // patch sends the next chunk from u.offset (PATCH).
  async function patch(u, alive) {
    const start = u.offset;
    const end = Math.min(start + CHUNK_SIZE, u.file.size);
    setStatus('Uploading…');
    const xhr = await send(u, 'PATCH', u.url, {
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(start),
    }, u.file.slice(start, end), function (loaded) {
      if (!alive()) return;
      showProgress(u, start + loaded);
      showSpeed(u, start + loaded);
    });
    if (!alive()) return;
    if (xhr.status !== 204) throw httpError(xhr);
    const offset = intHeader(xhr, 'Upload-Offset');
    if (!(offset > start && offset <= u.file.size)) throw new Error('Error: the server sent a bad Upload-Offset');
    u.offset = offset;
    u.attempt = 0;
    showProgress(u, offset);
  }

  // run carries upload u on until it is complete, paused or failed.
  async function run(u) {
    const gen = ++u.gen;
    const alive = function () { return up === u && u.gen === gen; };
    setState('running');
    try {
      if (u.url) await sync(u, alive);
      else await create(u, alive);
      while (alive() && u.offset < u.file.size) await patch(u, alive);
      if (alive()) finish(u);
    } catch (err) {
      if (!alive()) return; // paused or replaced: the abort is no failure
      u.xhr = null;
      clearSpeed(u);
      if (err.retryable && u.attempt < RETRY_DELAYS_MS.length) {
        const delay = RETRY_DELAYS_MS[u.attempt++];
        setStatus(err.message + '. Trying again in ' + delay / 1000 + ' s (' +
          u.attempt + ' of ' + RETRY_DELAYS_MS.length + ')…', 'warning');
        u.timer = setTimeout(function () { if (alive()) run(u); }, delay);
        return;
      }
      setState('failed');
      setStatus(err.message + (err.retryable ? '. Press Resume to try again.' : '.'), 'error');
    }
  }

  function finish(u) {
    u.xhr = null;
    remember(u.key, null);
    showProgress(u, u.file.size, true);
    ui.link.href = u.url;
    ui.link.textContent = u.file.name;
    ui.result.hidden = false;
    setState('done');
    setStatus('Upload complete: ' + formatBytes(u.file.size) + '.', 'success');
  }

  // --- the controls ---

  function choose() {
    const file = ui.file.files[0];
    if (up) {
      up.gen++; // a paused or failed upload stays on the server, resumable
      clearTimeout(up.timer);
    }
    up = null;
    ui.result.hidden = true;
    if (!file) {
      setState('idle');
      setStatus('Choose a file to begin.');
      return;
    }
    const key = storageKey(file);
    up = {
      file: file, key: key, url: recall(key), offset: 0, xhr: null,
      timer: 0, attempt: 0, gen: 0, samples: [],
    };
    showProgress(up, 0);
    clearSpeed(up);
    setState('idle');
    setStatus(up.url
      ? 'Part of this file was sent before: Start goes on from where it stopped.'
      : 'Ready to upload ' + formatBytes(file.size) + '.');
  }

  ui.file.addEventListener('change', choose);

  ui.start.addEventListener('click', function () {
    if (!up || root.dataset.state !== 'idle') return;
    run(up);
  });

  ui.pause.addEventListener('click', function () {
    const u = up;
    if (!u || root.dataset.state !== 'running') return;
    u.gen++;
    clearTimeout(u.timer);
    if (u.xhr) u.xhr.abort();
    u.xhr = null;
    clearSpeed(u);
    setState('paused');
    setStatus('Paused. The server keeps what it received; press Resume to go on.');
  });

  ui.resume.addEventListener('click', function () {
    const u = up;
    const state = root.dataset.state;
    if (!u || (state !== 'paused' && state !== 'failed')) return;
    u.attempt = 0;
    run(u);
  });

  choose(); // the browser may have kept a file chosen before a reload
})();
