// Listens on a UDP port for anim3d's plain OSC scheme and keeps the latest frame.
// A minimal OSC 1.0 parser (messages and bundles, float and int arguments): enough for
// /anim3d/frame, so the package needs no third-party OSC library.
using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Anim3d
{
    /// <summary>One received frame: 52 ARKit weights (Apple order), head rotation and
    /// translation in anim3d's right-handed frame, and the sender's time.</summary>
    public sealed class FaceFrame
    {
        public readonly float[] Weights = new float[52];
        public float Qx, Qy, Qz, Qw = 1f;
        public float Tx, Ty, Tz;
        public float Time;
    }

    public sealed class OscFrameListener : IDisposable
    {
        public const string Address = "/anim3d/frame";
        public const int NumValues = 60;

        readonly UdpClient _client;
        readonly Thread _thread;
        readonly object _lock = new object();
        FaceFrame _latest;
        long _received;
        volatile bool _running = true;

        public OscFrameListener(int port)
        {
            _client = new UdpClient(new IPEndPoint(IPAddress.Any, port));
            _thread = new Thread(Run) { IsBackground = true, Name = "anim3d OSC" };
            _thread.Start();
        }

        /// <summary>Number of frames received so far.</summary>
        public long Received { get { return Interlocked.Read(ref _received); } }

        /// <summary>The newest frame since the last call, or null.</summary>
        public FaceFrame TakeLatest()
        {
            lock (_lock)
            {
                var f = _latest;
                _latest = null;
                return f;
            }
        }

        void Run()
        {
            var any = new IPEndPoint(IPAddress.Any, 0);
            while (_running)
            {
                try
                {
                    byte[] data = _client.Receive(ref any);
                    Parse(data, 0, data.Length);
                }
                catch (SocketException) { if (!_running) return; }
                catch (ObjectDisposedException) { return; }
                catch (Exception) { /* a malformed datagram: ignore it */ }
            }
        }

        void Parse(byte[] d, int start, int length)
        {
            int end = start + length;
            if (length >= 16 && ReadString(d, start, out int p) == "#bundle")
            {
                p += 8; // time tag
                while (p + 4 <= end)
                {
                    int size = ReadInt(d, p);
                    p += 4;
                    if (size <= 0 || p + size > end) return;
                    Parse(d, p, size);
                    p += size;
                }
                return;
            }
            string address = ReadString(d, start, out int q);
            if (address != Address || q >= end) return;
            string tags = ReadString(d, q, out int a);
            if (tags.Length < NumValues + 1 || tags[0] != ',') return;
            var values = new float[NumValues];
            for (int i = 0; i < NumValues; i++, a += 4)
            {
                if (a + 4 > end) return;
                values[i] = tags[i + 1] == 'i' ? ReadInt(d, a) : ReadFloat(d, a);
            }
            var f = new FaceFrame();
            Array.Copy(values, f.Weights, 52);
            f.Qx = values[52]; f.Qy = values[53]; f.Qz = values[54]; f.Qw = values[55];
            f.Tx = values[56]; f.Ty = values[57]; f.Tz = values[58];
            f.Time = values[59];
            lock (_lock) { _latest = f; }
            Interlocked.Increment(ref _received);
        }

        static string ReadString(byte[] d, int start, out int next)
        {
            int e = start;
            while (e < d.Length && d[e] != 0) e++;
            string s = Encoding.ASCII.GetString(d, start, e - start);
            next = start + ((e - start) / 4 + 1) * 4; // null-terminated, padded to 4 bytes
            return s;
        }

        static int ReadInt(byte[] d, int p)
        {
            return (d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3];
        }

        static float ReadFloat(byte[] d, int p)
        {
            var b = new[] { d[p + 3], d[p + 2], d[p + 1], d[p] }; // OSC is big-endian
            if (!BitConverter.IsLittleEndian) Array.Reverse(b);
            return BitConverter.ToSingle(b, 0);
        }

        public void Dispose()
        {
            _running = false;
            _client.Close();
        }
    }
}
