// Live mode: the microphone through WS /v1/stream (anim3d/serve/stream.py): a JSON start message with the
// controls and the sample rate, then binary s16le PCM blocks, then {"end": true}; frames come back as JSON as soon
// as the server makes them, then a neutral frame and {"done": true, "frames": N}.
import { openMicrophone, pcm16 } from './capture.js';

export class LiveStream {
  // handlers: onStarted({fps, channels, sample_rate}), onFrame(frame), onWarning(text), onError(text),
  // onClosed({frames, clean}); frame: {frame, time, blendshapes, head_rotation, head_translation, neutral?}
  constructor(url, controls, handlers) {
    this.url = url;
    this.controls = controls;
    this.h = handlers;
    this.ws = null;
    this.mic = null;
    this.started = false;
    this.sentSamples = 0;
    this.done = null;
  }

  async start() {
    const queued = [];
    this.mic = await openMicrophone((block) => {
      if (this.started && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(pcm16(block));
        this.sentSamples += block.length;
      } else if (!this.started) {
        queued.push(block); // said before the server's "started": sent right after it
      }
    });
    this.sampleRate = this.mic.sampleRate;
    this.ws = new WebSocket(this.url);
    this.ws.binaryType = 'arraybuffer';
    const start = { ...this.controls, sample_rate: this.sampleRate, format: 'json' };
    this.ws.onopen = () => this.ws.send(JSON.stringify(start));
    this.ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      const m = JSON.parse(e.data);
      if (m.started) {
        this.started = true;
        this.h.onStarted(m);
        for (const block of queued.splice(0)) {
          this.ws.send(pcm16(block));
          this.sentSamples += block.length;
        }
      } else if ('frame' in m) {
        this.h.onFrame(m);
      } else if (m.warning) {
        this.h.onWarning(m.warning);
      } else if (m.error) {
        this.h.onError(m.error);
      } else if (m.done) {
        this.done = m;
      }
    };
    this.ws.onclose = (e) => {
      this.closeMicrophone();
      this.h.onClosed({ frames: this.done ? this.done.frames : null, clean: !!this.done, code: e.code });
    };
  }

  // The end of the speech: the server sends the last frames, a neutral one, "done", and closes.
  async stop() {
    await this.closeMicrophone();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      if (this.started) this.ws.send(JSON.stringify({ end: true }));
      else this.ws.close();
    }
  }

  async closeMicrophone() {
    const mic = this.mic;
    this.mic = null;
    if (mic) await mic.close();
  }
}

export function streamUrl(apiKey) {
  const url = new URL('v1/stream', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (apiKey) url.searchParams.set('api_key', apiKey);
  return url.href;
}
