using System.Runtime.CompilerServices;
namespace LlmMerge.Engine.Kernels;

/// <summary>
/// The rank of every entry of a row in the ascending stable order of its keys (0 = smallest; equal keys ranked in
/// memory order): what DELLA's MagPrune gets from <c>argsort(argsort(|row|))</c> with stable sorts. A least
/// significant digit radix sort on the key bits (four passes of 8 bits, stable by construction; a digit every key
/// of the row shares, such as the top byte of magnitudes of one scale, costs no pass).
/// </summary>
internal sealed unsafe class RowRanks(int width)
{
    private const int Digit = 8;
    private const int Buckets = 1 << Digit;
    private const int Passes = 4;

    private readonly uint[] _keysA = new uint[width];
    private readonly uint[] _keysB = new uint[width];
    private readonly int[] _indexA = new int[width];
    private readonly int[] _indexB = new int[width];
    private readonly int[] _counts = new int[Passes * Buckets];

    /// <summary>Writes each entry's rank into <paramref name="ranks"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Rank(uint* keys, int count, int* ranks)
    {
        Array.Clear(_counts);
        fixed (uint* ka = _keysA, kb = _keysB)
        fixed (int* ia = _indexA, ib = _indexB, c = _counts)
        {
            for (int i = 0; i < count; i++)
            {
                uint k = keys[i];
                ka[i] = k;
                ia[i] = i;
                c[k & 0xFF]++;
                c[Buckets + ((k >> 8) & 0xFF)]++;
                c[2 * Buckets + ((k >> 16) & 0xFF)]++;
                c[3 * Buckets + (k >> 24)]++;
            }
            uint* srcK = ka, dstK = kb;
            int* srcI = ia, dstI = ib;
            for (int pass = 0; pass < Passes; pass++)
            {
                int* h = c + pass * Buckets;
                // A digit every key shares leaves the order as it is.
                if (h[(srcK[0] >> (pass * Digit)) & (Buckets - 1)] == count)
                    continue;
                int sum = 0;
                for (int b = 0; b < Buckets; b++)
                {
                    int t = h[b];
                    h[b] = sum;
                    sum += t;
                }
                for (int i = 0; i < count; i++)
                {
                    uint k = srcK[i];
                    int pos = h[(k >> (pass * Digit)) & (Buckets - 1)]++;
                    dstK[pos] = k;
                    dstI[pos] = srcI[i];
                }
                uint* tk = srcK;
                srcK = dstK;
                dstK = tk;
                int* ti = srcI;
                srcI = dstI;
                dstI = ti;
            }
            for (int r = 0; r < count; r++)
                ranks[srcI[r]] = r;
        }
    }
}
