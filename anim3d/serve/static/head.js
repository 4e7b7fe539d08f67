// The open head in a three.js scene: a GLB from the server (its 52 ARKit morph targets, the FLAME joints root ->
// neck -> jaw, left_eye, right_eye, and the animation clip "anim3d": weights, neck and eye rotations, root
// translation), played at a time the page gives (setTime), or posed one live frame at a time (applyFrame).
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

export class HeadView {
  constructor(canvas, eyeMax) {
    this.eyeMax = eyeMax; // radians: {yaw, up, down}, as anim3d.channels EYE_MAX_*
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0xe9ecf1);
    this.camera = new THREE.PerspectiveCamera(28, 1, 0.01, 10);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8d7c6c, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 2.2);
    key.position.set(0.6, 0.8, 1.2);
    this.scene.add(key);
    const rim = new THREE.DirectionalLight(0xdfe8ff, 0.8);
    rim.position.set(-0.8, 0.3, -0.6);
    this.scene.add(rim);
    this.loader = new GLTFLoader();
    this.model = null; // the loaded glTF scene
    this.mesh = null; // the head: the mesh with the morph targets
    this.bones = {}; // name -> {node, position, quaternion} (the rest pose)
    this.mixer = null;
    this.clip = null;
    this.framed = false;
    this.changed = true; // something to draw: a new model, a pose, a new size
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    this.resize();
  }

  get duration() { return this.clip ? this.clip.duration : 0; }

  resize() {
    const el = this.renderer.domElement.parentElement;
    const w = Math.max(1, el.clientWidth), h = Math.max(1, el.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.changed = true;
  }

  // Whether the view changed since the last call (a model loaded, the head put at rest, a new size).
  takeChange() {
    const c = this.changed;
    this.changed = false;
    return c;
  }

  // Show the GLB in `data` (an ArrayBuffer) in place of the one shown; its clip, if it has one, ready to play.
  async load(data) {
    const gltf = await this.loader.parseAsync(data, '');
    if (this.model) this.scene.remove(this.model);
    if (this.mixer) this.mixer.stopAllAction();
    this.model = gltf.scene;
    this.mesh = null;
    this.bones = {};
    this.model.traverse((o) => {
      if (o.isMesh && o.morphTargetDictionary && !this.mesh) this.mesh = o;
      if (o.isBone || ['root', 'neck', 'jaw', 'left_eye', 'right_eye'].includes(o.name)) {
        this.bones[o.name] = { node: o, position: o.position.clone(), quaternion: o.quaternion.clone() };
      }
    });
    if (!this.mesh) throw new Error('the GLB has no mesh with morph targets');
    this.scene.add(this.model);
    this.clip = gltf.animations[0] || null;
    this.mixer = null;
    if (this.clip) {
      this.mixer = new THREE.AnimationMixer(this.model);
      this.mixer.clipAction(this.clip).play();
      this.setTime(0);
    }
    if (!this.framed) this.frame();
    this.changed = true;
  }

  // The camera in front of the face, the whole head in view.
  frame() {
    // the rest positions only (the geometry's own box also spans every morph target's extreme)
    const box = new THREE.Box3().setFromBufferAttribute(this.mesh.geometry.attributes.position);
    const center = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3());
    const fit = Math.max(size.y, size.x / this.camera.aspect) * 1.1;
    const dist = fit / (2 * Math.tan(THREE.MathUtils.degToRad(this.camera.fov / 2)));
    this.camera.position.set(center.x, center.y + size.y * 0.04, center.z + size.z / 2 + dist);
    this.camera.lookAt(center);
    this.framed = true;
  }

  // The clip at `seconds` (held at its last frame past the end).
  setTime(seconds) {
    if (!this.mixer) return;
    const t = Math.min(Math.max(seconds, 0), Math.max(this.clip.duration - 1e-6, 0));
    this.mixer.setTime(t);
  }

  // One live frame: `weights` in the order of `channels` (ARKit names), head rotation (axis-angle, radians),
  // head translation (metres); the eyes turned from the eyeLook* weights as the GLB export turns them.
  applyFrame(channels, weights, rotation, translation) {
    if (!this.mesh) return;
    const dict = this.mesh.morphTargetDictionary, inf = this.mesh.morphTargetInfluences;
    const w = {};
    channels.forEach((name, i) => {
      w[name] = weights[i];
      const k = dict[name];
      if (k !== undefined) inf[k] = weights[i];
    });
    const neck = this.bones.neck, root = this.bones.root;
    if (neck) neck.node.quaternion.copy(neck.quaternion).multiply(rotvecQuaternion(rotation));
    if (root) root.node.position.copy(root.position).add(new THREE.Vector3(...translation));
    for (const side of ['Left', 'Right']) {
      const eye = this.bones[side === 'Left' ? 'left_eye' : 'right_eye'];
      if (!eye) continue;
      const lookIn = w[`eyeLookIn${side}`] || 0, lookOut = w[`eyeLookOut${side}`] || 0;
      const towardLeft = side === 'Left' ? lookOut - lookIn : lookIn - lookOut;
      const yaw = this.eyeMax.yaw * towardLeft;
      const pitch = this.eyeMax.down * (w[`eyeLookDown${side}`] || 0) - this.eyeMax.up * (w[`eyeLookUp${side}`] || 0);
      const turn = new THREE.Quaternion().setFromEuler(new THREE.Euler(pitch, yaw, 0, 'YXZ')); // Ry(yaw) Rx(pitch)
      eye.node.quaternion.copy(eye.quaternion).multiply(turn);
    }
  }

  // The head at rest: no weights, the joints at their rest pose, no clip.
  rest() {
    if (this.mixer) this.mixer.stopAllAction();
    this.mixer = null;
    this.clip = null;
    if (this.mesh) this.mesh.morphTargetInfluences.fill(0);
    for (const b of Object.values(this.bones)) {
      b.node.position.copy(b.position);
      b.node.quaternion.copy(b.quaternion);
    }
    this.changed = true;
  }

  influences() { return this.mesh ? Array.from(this.mesh.morphTargetInfluences) : []; }

  // {ARKit name: weight} of the shown pose.
  weights() {
    const out = {};
    if (!this.mesh) return out;
    const inf = this.mesh.morphTargetInfluences;
    for (const [name, k] of Object.entries(this.mesh.morphTargetDictionary)) out[name] = inf[k];
    return out;
  }

  render() { this.renderer.render(this.scene, this.camera); }
}

function rotvecQuaternion(v) {
  const angle = Math.hypot(v[0], v[1], v[2]);
  if (angle < 1e-12) return new THREE.Quaternion();
  return new THREE.Quaternion().setFromAxisAngle(new THREE.Vector3(v[0] / angle, v[1] / angle, v[2] / angle), angle);
}
