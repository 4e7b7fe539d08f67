// ARKit-52 names (Apple's order) and tolerant matching of blendshape names, mirroring
// anim3d.channels.canonical_name: camelCase, PascalCase, snake_case, _L/_R, .L/.R, any case,
// and prefixes such as "blendShape1." or "ARKit_".
using System.Collections.Generic;
using System.Text;

namespace Anim3d
{
    public static class ArkitNames
    {
        public static readonly string[] Names =
        {
            "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
            "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
            "jawForward", "jawLeft", "jawRight", "jawOpen",
            "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
            "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
            "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
            "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
            "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
            "mouthUpperUpLeft", "mouthUpperUpRight",
            "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
            "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
        };

        static readonly string[] Prefixes = { "blendshapes", "blendshape", "arkit", "shape", "key", "morph", "bs", "target" };
        static Dictionary<string, int> _lookup;

        static string Key(string s)
        {
            var b = new StringBuilder();
            foreach (char c in s.ToLowerInvariant())
                if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) b.Append(c);
            return b.ToString();
        }

        static Dictionary<string, int> Lookup()
        {
            if (_lookup != null) return _lookup;
            _lookup = new Dictionary<string, int>();
            for (int i = 0; i < Names.Length; i++)
            {
                string k = Key(Names[i]);
                _lookup[k] = i;
                bool directional = k == "jawleft" || k == "jawright" || k == "mouthleft" || k == "mouthright";
                if (!directional && k.EndsWith("left")) _lookup[k.Substring(0, k.Length - 4) + "l"] = i;
                if (!directional && k.EndsWith("right")) _lookup[k.Substring(0, k.Length - 5) + "r"] = i;
            }
            return _lookup;
        }

        /// <summary>Index (0..51) of the ARKit shape a blendshape name means, or -1.</summary>
        public static int IndexOf(string name)
        {
            var table = Lookup();
            var candidates = new List<string> { name };
            int dot = name.LastIndexOf('.');
            if (dot >= 0 && dot < name.Length - 2) candidates.Add(name.Substring(dot + 1)); // "blendShape1.jawOpen"
            foreach (var cand in candidates)
            {
                string k = Key(cand);
                if (table.TryGetValue(k, out int i)) return i;
                foreach (var p in Prefixes)
                {
                    if (!k.StartsWith(p)) continue;
                    string rest = k.Substring(p.Length).TrimStart('0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
                    if (table.TryGetValue(rest, out i)) return i;
                }
            }
            return -1;
        }
    }
}
