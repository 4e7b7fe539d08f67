// AudioWorklet processor: the microphone's first channel, posted to the page in blocks of about 20 ms (Float32).
class Anim3dCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = Math.max(128, Math.round(sampleRate * 0.02));
    this.buf = new Float32Array(this.block);
    this.n = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let i = 0;
      while (i < channel.length) {
        const take = Math.min(channel.length - i, this.block - this.n);
        this.buf.set(channel.subarray(i, i + take), this.n);
        this.n += take;
        i += take;
        if (this.n === this.block) {
          this.port.postMessage(this.buf, [this.buf.buffer]);
          this.buf = new Float32Array(this.block);
          this.n = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('anim3d-capture', Anim3dCapture);
