// The page: audio from the microphone or a file, the controls, POST /v1/animate (format glb) and the returned
// clip played on the head in step with the audio element (its currentTime is the clock; the page's own clock
// where the browser does not play the audio); downloads; live mode through WS /v1/stream.
// window.anim3dState is what a test (tests/test_serve_page.py) or a curious user reads.
import { HeadView } from './head.js';
import { encodeWav, openMicrophone } from './capture.js';
import { LiveStream, streamUrl } from './live.js';

const config = JSON.parse(document.getElementById('anim3d-config').textContent);
const $ = (id) => document.getElementById(id);
const audio = $('audio');
const head = new HeadView($('canvas'), config.eye_max);
const STALL_MS = 700; // the audio clock has not moved this long after play(): the page's clock takes over
const LIVE_DELAY_S = 0.08; // live frames are shown this long after the first one's arrival, in their own rhythm

let source = null; // {blob, name}: the audio to animate
let take = null; // {glb: Blob, form: the request's fields, name}: the last answer
let clock = null; // {kind: 'audio'|'performance', startedAt, stalled}
let recording = null; // {mic, blocks, rate}
let live = null; // {stream, frames, channels, t0}
let busy = false;

const state = (window.anim3dState = {
  phase: 'loading', // loading, idle, recording, animating, playing, done, live, error
  clock: null, // 'audio' (the audio element's currentTime) or 'performance' (the page's clock)
  time: 0, // the clip time shown on the head (s)
  duration: 0, // the clip's length (s)
  status: '',
  error: null,
  liveFrames: 0, // frames received in live mode (neutral ones not counted)
  liveChannels: null,
  lastForm: null, // the controls of the last POST /v1/animate
  plays: 0,
  // the pose shown now and the time it was shown for, read together
  sample: () => ({ time: state.time, clock: state.clock, phase: state.phase, influences: head.influences(),
    weights: head.weights(), audioTime: audio.currentTime, audioPaused: audio.paused }),
});

function say(text, error = false) {
  state.status = text;
  state.error = error ? text : null;
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function fail(text) {
  say(text, true);
  state.phase = 'error';
}

function controls() {
  const f = {
    emotion: $('emotion').value, intensity: $('intensity').value, seed: $('seed').value,
    distance: $('distance').value, text: $('text').value.trim(), language: $('language').value,
  };
  if ($('free-gaze').checked) f.free_gaze = true;
  else f.gaze = `${Number($('gaze-yaw').value) || 0},${Number($('gaze-pitch').value) || 0}`;
  if (!f.text) { delete f.text; delete f.language; }
  return f;
}

function keyHeaders() {
  const key = $('api-key').value.trim();
  return key ? { 'X-API-Key': key } : {};
}

async function post(fields, format) {
  const form = new FormData();
  form.append('audio', source.blob, source.name);
  form.append('format', format);
  for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
  const r = await fetch('v1/animate', { method: 'POST', body: form, headers: keyHeaders() });
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try { message = `${r.status}: ${(await r.json()).error}`; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  const warnings = r.headers.get('X-Anim3d-Warnings');
  return { blob: await r.blob(), warnings: warnings ? JSON.parse(warnings) : [] };
}

function setSource(blob, name) {
  source = { blob, name };
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(blob);
  take = null;
  $('download-glb').disabled = $('download-csv').disabled = true;
  refresh();
  say(`${name}: ready. Animate it.`);
  if (state.phase !== 'live') state.phase = 'idle';
}

function refresh() {
  $('animate').disabled = busy || !source || !!recording || !!live || state.phase === 'loading';
  $('record').disabled = busy || !!live;
  $('live').disabled = busy || !!recording || state.phase === 'loading';
  $('record').textContent = recording ? 'Stop recording' : 'Record';
  $('record').classList.toggle('on', !!recording);
  $('live').textContent = live ? 'Stop live' : 'Live';
  $('live').classList.toggle('on', !!live);
}

async function animate() {
  busy = true;
  refresh();
  state.phase = 'animating';
  say('Animating…');
  try {
    const fields = controls();
    state.lastForm = fields;
    const t0 = performance.now();
    const { blob, warnings } = await post(fields, 'glb');
    await head.load(await blob.arrayBuffer());
    take = { glb: blob, form: fields, name: source.name.replace(/\.[^.]*$/, '') || 'motion' };
    state.duration = head.duration;
    $('download-glb').disabled = $('download-csv').disabled = false;
    say(`Animated ${head.duration.toFixed(1)} s in ${((performance.now() - t0) / 1000).toFixed(2)} s.`
      + (warnings.length ? `\n${warnings.join('\n')}` : ''));
    play();
  } catch (e) {
    fail(`Could not animate: ${e.message}`);
  } finally {
    busy = false;
    refresh();
  }
}

function play() {
  audio.currentTime = 0;
  clock = { kind: 'audio', startedAt: performance.now(), stalled: false };
  state.clock = 'audio';
  state.phase = 'playing';
  state.plays += 1;
  audio.play().catch((e) => usePageClock(`the browser did not play the audio (${e.name})`));
}

// The audio does not play (no output device, autoplay refused): the head moves on the page's clock, silently.
function usePageClock(why) {
  if (!clock || clock.kind === 'performance') return;
  clock = { kind: 'performance', startedAt: performance.now() - audio.currentTime * 1000 };
  state.clock = 'performance';
  say(`${state.status}\n(${why}: the head moves on the page's clock)`);
}

function clipTime(now) {
  if (!clock) return 0;
  if (clock.kind === 'audio') {
    if (!audio.paused && audio.currentTime === 0 && now - clock.startedAt > STALL_MS) {
      usePageClock('the audio clock does not advance');
      return clipTime(now);
    }
    return audio.currentTime;
  }
  return Math.min((now - clock.startedAt) / 1000, head.duration);
}

// Each animation frame: the head posed for the clock (or the live frames due), drawn when something changed
// (an idle page draws nothing: software WebGL is not free).
function tick(now) {
  let changed = head.takeChange();
  if (live) {
    changed = showLive(now) || changed;
  } else if (head.clip) {
    const t = clipTime(now);
    if (t !== state.time || changed) {
      head.setTime(t);
      state.time = t;
      changed = true;
    }
    if (state.phase === 'playing' && t >= head.duration - 1e-3) state.phase = 'done';
    if (state.phase === 'done' && clock && clock.kind === 'audio' && !audio.paused && !audio.ended
        && t < head.duration - 1e-3) state.phase = 'playing'; // played again from the audio's controls
  }
  if (changed) head.render();
  requestAnimationFrame(tick);
}

function showLive(now) {
  const q = live.frames;
  if (!q.length || !live.channels) return false;
  if (live.t0 === null) live.t0 = now - (q[0].time - LIVE_DELAY_S) * 1000;
  let target = (now - live.t0) / 1000;
  const last = q[q.length - 1];
  if (last.time - target > 0.5) { // fallen behind the frames received: catch up
    live.t0 = now - (last.time - LIVE_DELAY_S) * 1000;
    target = last.time - LIVE_DELAY_S;
  }
  let frame = null;
  while (q.length && (q[0].time <= target || q[0].neutral)) frame = q.shift();
  if (frame) {
    head.applyFrame(live.channels, frame.blendshapes, frame.head_rotation, frame.head_translation);
    state.time = frame.time;
  }
  return !!frame;
}

async function toggleRecord() {
  if (recording) {
    const { mic, blocks, rate } = recording;
    recording = null;
    await mic.close();
    refresh();
    if (!blocks.length) return fail('Nothing was recorded.');
    setSource(encodeWav(blocks, rate), 'recording.wav');
    return;
  }
  try {
    const blocks = [];
    const limit = config.max_seconds;
    const mic = await openMicrophone((b) => {
      blocks.push(b);
      if (recording && blocks.length * b.length / recording.rate >= limit) toggleRecord();
    });
    recording = { mic, blocks, rate: mic.sampleRate };
    state.phase = 'recording';
    say(`Recording at ${mic.sampleRate} Hz… press Stop recording when done.`);
  } catch (e) {
    fail(`No microphone: ${e.message}`);
  }
  refresh();
}

async function toggleLive() {
  if (live) {
    say('Ending the stream…');
    await live.stream.stop();
    return;
  }
  if (head.clip) { audio.pause(); head.rest(); clock = null; state.clock = null; }
  const session = { frames: [], channels: null, t0: null, stream: null };
  session.stream = new LiveStream(streamUrl($('api-key').value.trim()), controls(), {
    onStarted: (m) => {
      session.channels = m.channels;
      state.liveChannels = m.channels;
      say(`Live: speak. ${m.sample_rate} Hz to the server, ${m.fps} frames/s back.`);
    },
    onFrame: (m) => {
      session.frames.push(m);
      if (!m.neutral) state.liveFrames += 1;
    },
    onWarning: (text) => say(`${state.status}\n${text}`),
    onError: (text) => fail(`The stream was refused: ${text}`),
    onClosed: ({ frames, clean, code }) => {
      live = null;
      head.rest();
      if (clean) { state.phase = 'idle'; say(`Live stream ended: ${frames} frames.`); }
      else if (!state.error) fail(`The live stream closed (code ${code}).`);
      refresh();
    },
  });
  live = session;
  state.liveFrames = 0;
  state.phase = 'live';
  say('Live: opening the microphone…');
  refresh();
  try {
    await session.stream.start();
  } catch (e) {
    live = null;
    fail(`Live mode needs the microphone: ${e.message}`);
    refresh();
  }
}

async function download(kind) {
  if (!take) return;
  let blob = take.glb;
  if (kind === 'csv') {
    say('Making the CSV…');
    try {
      blob = (await post(take.form, 'csv')).blob;
    } catch (e) {
      return fail(`Could not make the CSV: ${e.message}`);
    }
    say('CSV ready.');
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${take.name}.${kind}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function setUp() {
  for (const e of config.emotions) $('emotion').add(new Option(e, e));
  for (const l of config.languages) $('language').add(new Option(l, l));
  $('seed').value = config.default_seed;
  $('api-key-row').hidden = !config.api_key;
  $('intensity').oninput = () => { $('intensity-value').textContent = $('intensity').value; };
  $('file').onchange = () => { const f = $('file').files[0]; if (f) setSource(f, f.name); };
  $('record').onclick = toggleRecord;
  $('animate').onclick = animate;
  $('live').onclick = toggleLive;
  $('download-glb').onclick = () => download('glb');
  $('download-csv').onclick = () => download('csv');
  audio.addEventListener('play', () => { if (head.clip && !clock) play(); });
  audio.addEventListener('ended', () => {
    if (state.phase === 'playing' && clock && clock.kind === 'audio') state.phase = 'done';
  });
}

async function main() {
  setUp();
  refresh();
  requestAnimationFrame(tick);
  try {
    const r = await fetch('head.glb');
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    await head.load(await r.arrayBuffer());
    state.phase = 'idle';
    say(config.api_key ? 'This server needs an API key: type it below the controls.' : 'Record a line or pick a file.');
  } catch (e) {
    fail(`Could not load the head: ${e.message}`);
  }
  refresh();
}

main();
