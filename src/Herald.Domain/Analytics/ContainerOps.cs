namespace Herald.Domain.Analytics;

// Binary operations on containers. Results are always new containers (inputs are not modified) in
// canonical array/bitset form; null means empty. Run containers take part through Contains (when
// the other side is a small array) or by expanding to words.
internal static class ContainerOps
{
    public static Container? And(Container a, Container b)
    {
        if (a is ArrayContainer aa) return AndArray(aa, b);
        if (b is ArrayContainer ba) return AndArray(ba, a);
        var words = a.ToWords();
        if (b is BitsetContainer bb) Bits.And(words, bb.Words);
        else Bits.And(words, b.ToWords());
        return Container.FromWords(words);
    }

    private static ArrayContainer? AndArray(ArrayContainer a, Container b)
    {
        var result = new ushort[Math.Min(a.Count, b.Cardinality)];
        int n;
        if (b is ArrayContainer ba) n = Intersect(a.Span, ba.Span, result);
        else
        {
            n = 0;
            foreach (ushort v in a.Span) if (b.Contains(v)) result[n++] = v;
        }
        return n == 0 ? null : new ArrayContainer(result, n);
    }

    private static int Intersect(ReadOnlySpan<ushort> a, ReadOnlySpan<ushort> b, Span<ushort> result)
    {
        if (a.Length > b.Length) { var t = a; a = b; b = t; }
        int n = 0;
        if (a.Length * 32 < b.Length)
        {
            // Very different sizes: binary-search the small side's values in the rest of the large one.
            int from = 0;
            foreach (ushort v in a)
            {
                int i = b[from..].BinarySearch(v);
                if (i >= 0) { result[n++] = v; from += i + 1; }
                else from += ~i;
                if (from >= b.Length) break;
            }
            return n;
        }
        int x = 0, y = 0;
        while (x < a.Length && y < b.Length)
        {
            ushort va = a[x], vb = b[y];
            if (va < vb) x++;
            else if (va > vb) y++;
            else { result[n++] = va; x++; y++; }
        }
        return n;
    }

    public static int AndCardinality(Container a, Container b)
    {
        if (a is ArrayContainer aa) return AndCardinalityArray(aa, b);
        if (b is ArrayContainer ba) return AndCardinalityArray(ba, a);
        var wa = a is BitsetContainer xa ? xa.Words : a.ToWords();
        var wb = b is BitsetContainer xb ? xb.Words : b.ToWords();
        return Bits.AndPopCount(wa, wb);
    }

    private static int AndCardinalityArray(ArrayContainer a, Container b)
    {
        int n = 0;
        if (b is ArrayContainer ba)
        {
            ReadOnlySpan<ushort> x = a.Span, y = ba.Span;
            int i = 0, j = 0;
            while (i < x.Length && j < y.Length)
            {
                if (x[i] < y[j]) i++;
                else if (x[i] > y[j]) j++;
                else { n++; i++; j++; }
            }
            return n;
        }
        foreach (ushort v in a.Span) if (b.Contains(v)) n++;
        return n;
    }

    public static Container Or(Container a, Container b)
    {
        if (a is ArrayContainer aa && b is ArrayContainer ba && aa.Count + ba.Count <= Container.MaxArraySize)
            return Union(aa.Span, ba.Span);
        ulong[] words;
        if (a is BitsetContainer) { words = a.ToWords(); b.OrInto(words); }
        else if (b is BitsetContainer) { words = b.ToWords(); a.OrInto(words); }
        else { words = new ulong[Bits.Words]; a.OrInto(words); b.OrInto(words); }
        return Container.FromWords(words)!;
    }

    private static ArrayContainer Union(ReadOnlySpan<ushort> a, ReadOnlySpan<ushort> b)
    {
        var result = new ushort[a.Length + b.Length];
        int i = 0, j = 0, n = 0;
        while (i < a.Length && j < b.Length)
        {
            ushort va = a[i], vb = b[j];
            if (va < vb) { result[n++] = va; i++; }
            else if (va > vb) { result[n++] = vb; j++; }
            else { result[n++] = va; i++; j++; }
        }
        while (i < a.Length) result[n++] = a[i++];
        while (j < b.Length) result[n++] = b[j++];
        return new ArrayContainer(result, n);
    }

    public static Container? AndNot(Container a, Container b)
    {
        if (a is ArrayContainer aa)
        {
            var result = new ushort[aa.Count];
            int n = 0;
            if (b is ArrayContainer ba)
            {
                ReadOnlySpan<ushort> x = aa.Span, y = ba.Span;
                int i = 0, j = 0;
                while (i < x.Length)
                {
                    while (j < y.Length && y[j] < x[i]) j++;
                    if (j >= y.Length || y[j] != x[i]) result[n++] = x[i];
                    i++;
                }
            }
            else
            {
                foreach (ushort v in aa.Span) if (!b.Contains(v)) result[n++] = v;
            }
            return n == 0 ? null : new ArrayContainer(result, n);
        }
        var words = a.ToWords();
        b.AndNotInto(words);
        return Container.FromWords(words);
    }

    public static Container? Xor(Container a, Container b)
    {
        if (a is ArrayContainer aa && b is ArrayContainer ba && aa.Count + ba.Count <= Container.MaxArraySize)
        {
            ReadOnlySpan<ushort> x = aa.Span, y = ba.Span;
            var result = new ushort[x.Length + y.Length];
            int i = 0, j = 0, n = 0;
            while (i < x.Length && j < y.Length)
            {
                if (x[i] < y[j]) result[n++] = x[i++];
                else if (x[i] > y[j]) result[n++] = y[j++];
                else { i++; j++; }
            }
            while (i < x.Length) result[n++] = x[i++];
            while (j < y.Length) result[n++] = y[j++];
            return n == 0 ? null : new ArrayContainer(result, n);
        }
        ulong[] words;
        if (a is BitsetContainer) { words = a.ToWords(); b.XorInto(words); }
        else { words = b.ToWords(); a.XorInto(words); }
        return Container.FromWords(words);
    }

    public static bool ContentEquals(Container a, Container b)
    {
        if (a.Cardinality != b.Cardinality) return false;
        if (a is ArrayContainer x && b is ArrayContainer y) return x.Span.SequenceEqual(y.Span);
        if (a is BitsetContainer p && b is BitsetContainer q) return p.Words.AsSpan().SequenceEqual(q.Words);
        return AndCardinality(a, b) == a.Cardinality;
    }
}
