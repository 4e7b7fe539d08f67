// The microphone as blocks of float samples (an AudioWorklet), 16-bit PCM for the live stream, and a recording
// as a 16-bit mono WAV file for POST /v1/animate (any rate: the server resamples).
export const TARGET_RATE = 16000; // the rate the model hears (the stream's default)

// Open the microphone; `onBlock(Float32Array)` gets each ~20 ms block. The audio context runs at 16 kHz where the
// browser resamples the microphone into it, else at the device's rate (the server resamples what it gets).
export async function openMicrophone(onBlock) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
    throw new Error('this browser gives the microphone only to pages on https:// or http://localhost / 127.0.0.1');
  }
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  let ctx = new AudioContext({ sampleRate: TARGET_RATE });
  let source;
  try {
    source = ctx.createMediaStreamSource(media);
  } catch (e) { // a browser that cannot resample a stream into a context of another rate
    await ctx.close();
    ctx = new AudioContext();
    source = ctx.createMediaStreamSource(media);
  }
  await ctx.audioWorklet.addModule(new URL('capture-worklet.js', import.meta.url));
  const node = new AudioWorkletNode(ctx, 'anim3d-capture', { numberOfInputs: 1, numberOfOutputs: 1 });
  node.port.onmessage = (e) => onBlock(e.data);
  const mute = ctx.createGain(); // the node must reach the destination to be run; nothing is heard
  mute.gain.value = 0;
  source.connect(node).connect(mute).connect(ctx.destination);
  await ctx.resume();
  return {
    sampleRate: ctx.sampleRate,
    async close() {
      node.port.onmessage = null;
      media.getTracks().forEach((t) => t.stop());
      await ctx.close();
    },
  };
}

// Float samples in [-1, 1] -> signed 16-bit little-endian PCM bytes.
export function pcm16(samples) {
  const out = new DataView(new ArrayBuffer(samples.length * 2));
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out.setInt16(i * 2, s < 0 ? Math.round(s * 32768) : Math.round(s * 32767), true);
  }
  return out.buffer;
}

// Blocks of float samples at `rate` -> a mono 16-bit PCM WAV file (a Blob).
export function encodeWav(blocks, rate) {
  const n = blocks.reduce((a, b) => a + b.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => header.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  header.setUint32(4, 36 + n * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  header.setUint32(16, 16, true); // fmt chunk size
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true); // bytes per second
  header.setUint16(32, 2, true); // bytes per frame
  header.setUint16(34, 16, true); // bits per sample
  text(36, 'data');
  header.setUint32(40, n * 2, true);
  return new Blob([header.buffer, ...blocks.map(pcm16)], { type: 'audio/wav' });
}
