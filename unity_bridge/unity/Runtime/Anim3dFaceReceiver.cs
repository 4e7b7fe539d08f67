// Drives a character's face from anim3d's plain OSC stream:
//   * blendshapes of one or more SkinnedMeshRenderers, matched to the 52 ARKit names by
//     tolerant spelling (EyeBlinkLeft, eyeBlink_L, blendShape1.jawOpen ...);
//   * the neck and head bones (the head rotation is shared between them) and the eye bones
//     (from the eyeLook* weights), applied as rotations in the avatar's frame on top of the rest pose;
//   * smoothing, and a return to neutral when no frame arrives for `timeout` seconds.
// anim3d's frame is right-handed (glTF); Unity's is left-handed: positions mirror X,
// quaternions (x, y, z, w) become (x, -y, -z, w).
using System.Collections.Generic;
using UnityEngine;

namespace Anim3d
{
    [AddComponentMenu("anim3d/Face Receiver (OSC)")]
    public class Anim3dFaceReceiver : MonoBehaviour
    {
        [Tooltip("UDP port of the plain scheme (anim3d stream --protocol plain, default 39540).")]
        public int port = 39540;

        [Tooltip("Meshes whose blendshapes carry ARKit names (face, teeth, tongue, eyelashes...).")]
        public SkinnedMeshRenderer[] faceMeshes;

        [Tooltip("The avatar's root: head rotations are applied in its frame.")]
        public Transform avatarRoot;
        public Transform neckBone;
        public Transform headBone;
        public Transform leftEyeBone;
        public Transform rightEyeBone;

        [Range(0f, 1f)] [Tooltip("Share of the head rotation given to the neck when both bones are set.")]
        public float neckShare = 0.4f;
        [Tooltip("Blendshape weight at ARKit 1.0 (Unity blendshapes usually run 0..100).")]
        public float weightScale = 100f;
        [Tooltip("Smoothing time constant in seconds (0 = none).")]
        public float smoothing = 0.03f;
        [Tooltip("Seconds without frames before easing back to neutral.")]
        public float timeout = 0.5f;
        [Tooltip("Apply the head translation to the avatar root (metres).")]
        public bool applyTranslation = false;

        const float EyeMaxYaw = 0.52f, EyeMaxUp = 0.35f, EyeMaxDown = 0.44f; // radians, as anim3d.channels

        OscFrameListener _listener;
        readonly float[] _target = new float[52];
        readonly float[] _current = new float[52];
        Quaternion _targetHead = Quaternion.identity, _currentHead = Quaternion.identity;
        Vector3 _targetPos, _currentPos, _rootRestPos;
        float _lastFrameTime = -1e9f;
        struct Binding { public SkinnedMeshRenderer Smr; public int Shape, Arkit; }
        readonly List<Binding> _bindings = new List<Binding>();
        readonly Dictionary<Transform, Quaternion> _restLocal = new Dictionary<Transform, Quaternion>();

        public long FramesReceived { get { return _listener == null ? 0 : _listener.Received; } }

        void OnEnable()
        {
            if (avatarRoot == null) avatarRoot = transform;
            _rootRestPos = avatarRoot.localPosition;
            _bindings.Clear();
            if (faceMeshes != null)
                foreach (var smr in faceMeshes)
                {
                    if (smr == null || smr.sharedMesh == null) continue;
                    for (int s = 0; s < smr.sharedMesh.blendShapeCount; s++)
                    {
                        int k = ArkitNames.IndexOf(smr.sharedMesh.GetBlendShapeName(s));
                        if (k >= 0) _bindings.Add(new Binding { Smr = smr, Shape = s, Arkit = k });
                    }
                }
            Debug.Log($"anim3d: {_bindings.Count} blendshapes bound to ARKit names; listening on UDP {port}");
            foreach (var b in new[] { neckBone, headBone, leftEyeBone, rightEyeBone })
                if (b != null) _restLocal[b] = b.localRotation;
            _listener = new OscFrameListener(port);
        }

        void OnDisable()
        {
            _listener?.Dispose();
            _listener = null;
            System.Array.Clear(_target, 0, 52);
            System.Array.Clear(_current, 0, 52);
            ApplyWeights();
            foreach (var kv in _restLocal) kv.Key.localRotation = kv.Value;
        }

        void Update()
        {
            var f = _listener?.TakeLatest();
            if (f != null)
            {
                System.Array.Copy(f.Weights, _target, 52);
                _targetHead = new Quaternion(f.Qx, -f.Qy, -f.Qz, f.Qw); // right- to left-handed
                _targetPos = new Vector3(-f.Tx, f.Ty, f.Tz);
                _lastFrameTime = Time.unscaledTime;
            }
            else if (Time.unscaledTime - _lastFrameTime > timeout)
            {
                System.Array.Clear(_target, 0, 52);
                _targetHead = Quaternion.identity;
                _targetPos = Vector3.zero;
            }
            float a = smoothing > 0f ? 1f - Mathf.Exp(-Time.unscaledDeltaTime / smoothing) : 1f;
            for (int i = 0; i < 52; i++) _current[i] = Mathf.Lerp(_current[i], _target[i], a);
            _currentHead = Quaternion.Slerp(_currentHead, _targetHead, a);
            _currentPos = Vector3.Lerp(_currentPos, _targetPos, a);
        }

        void LateUpdate()
        {
            ApplyWeights();
            ApplyBones();
            if (applyTranslation) avatarRoot.localPosition = _rootRestPos + _currentPos;
        }

        void ApplyWeights()
        {
            foreach (var b in _bindings)
                if (b.Smr != null) b.Smr.SetBlendShapeWeight(b.Shape, Mathf.Clamp01(_current[b.Arkit]) * weightScale);
        }

        // Rotate `bone` by `delta` (given in the avatar root's frame) on top of its rest pose.
        void Rotate(Transform bone, Quaternion delta)
        {
            if (bone == null) return;
            Quaternion parent = bone.parent != null ? bone.parent.rotation : Quaternion.identity;
            Quaternion root = avatarRoot.rotation;
            bone.rotation = root * delta * Quaternion.Inverse(root) * parent * _restLocal[bone];
        }

        void ApplyBones()
        {
            _currentHead.ToAngleAxis(out float angle, out Vector3 axis);
            if (angle > 180f) angle -= 360f;
            bool both = neckBone != null && headBone != null;
            float share = both ? neckShare : 1f;
            Rotate(neckBone, Quaternion.AngleAxis(angle * share, axis));
            Rotate(headBone, Quaternion.AngleAxis(angle * (both ? 1f - share : 1f), axis));
            Rotate(leftEyeBone, Eye(0));
            Rotate(rightEyeBone, Eye(7));
        }

        // Eye rotation from the eyeLook* weights (base 0 = left eye block, 7 = right eye block).
        Quaternion Eye(int b)
        {
            float down = _current[b + 1], lookIn = _current[b + 2], lookOut = _current[b + 3], up = _current[b + 4];
            float towardLeft = b == 0 ? lookOut - lookIn : lookIn - lookOut; // toward the subject's left
            float yaw = EyeMaxYaw * towardLeft, pitch = EyeMaxDown * down - EyeMaxUp * up;
            // anim3d: R = Ry(yaw) Rx(pitch) (right-handed); in Unity's mirrored frame the yaw flips sign
            return Quaternion.AngleAxis(-yaw * Mathf.Rad2Deg, Vector3.up) * Quaternion.AngleAxis(pitch * Mathf.Rad2Deg, Vector3.right);
        }
    }
}
