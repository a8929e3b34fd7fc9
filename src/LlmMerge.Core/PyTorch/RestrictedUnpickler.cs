using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LlmMerge.Core.PyTorch;

/// <summary>
/// Reads the pickle of a torch.save state dict without Python and without running anything: the opcodes of
/// protocol 2 that torch.save (pickle_protocol=2) emits for dicts of tensors, and the globals of
/// <see cref="TorchGlobals"/>, whose effect is imitated here (an OrderedDict, a view of a storage). Any other
/// global is refused by name when it is read, before any call; any other opcode is refused by name too.
/// Storages stay references (persistent ids) into the archive; no tensor data is read.
/// </summary>
/// <remarks>The same whitelist as mergekit's LazyTorchUnpickler (a6e40288) less numpy and _codecs, which a state dict of tensors does not need.</remarks>
internal sealed class RestrictedUnpickler
{
    private static readonly object Mark = new();
    private readonly byte[] _data;
    private readonly string _where;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private int _pos;

    private RestrictedUnpickler(byte[] data, string where)
    {
        _data = data;
        _where = where;
    }

    /// <summary>The object the pickle describes; <paramref name="where"/> (file and entry) starts every error.</summary>
    public static object? Load(byte[] data, string where) => new RestrictedUnpickler(data, where).Run();

    private object? Run()
    {
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    int protocol = ReadByte();
                    if (protocol > 2)
                        throw Bad($"pickle protocol {protocol}; torch.save writes protocol 2 (save it again with a default torch.save)");
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1)
                        throw Bad($"the pickle ends with {_stack.Count} values on its stack instead of one");
                    return _stack[0] == Mark ? throw Bad("the pickle ends inside a MARK") : _stack[0];
                case (byte)'(': // MARK
                    _marks.Push(_stack.Count);
                    _stack.Add(Mark);
                    break;
                case (byte)'0': // POP
                    Pop();
                    break;
                case (byte)'1': // POP_MARK
                    PopToMark();
                    break;
                case (byte)'2': // DUP
                    Push(Peek());
                    break;
                case (byte)'N':
                    Push(null);
                    break;
                case 0x88: // NEWTRUE
                    Push(true);
                    break;
                case 0x89: // NEWFALSE
                    Push(false);
                    break;
                case (byte)'J': // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
                    break;
                case (byte)'K': // BININT1
                    Push((long)ReadByte());
                    break;
                case (byte)'M': // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));
                    break;
                case 0x8a: // LONG1
                    Push(Long(Take(ReadByte()), at));
                    break;
                case 0x8b: // LONG4
                    int n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
                    Push(Long(Take(n), at));
                    break;
                case (byte)'G': // BINFLOAT (big-endian)
                    Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8)));
                    break;
                case (byte)'X': // BINUNICODE
                    Push(Encoding.UTF8.GetString(Take(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))));
                    break;
                case (byte)'U': // SHORT_BINSTRING (Python 2 str)
                    Push(Encoding.Latin1.GetString(Take(ReadByte())));
                    break;
                case (byte)'T': // BINSTRING
                    Push(Encoding.Latin1.GetString(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))));
                    break;
                case (byte)')': // EMPTY_TUPLE
                    Push(new PickledTuple([]));
                    break;
                case (byte)'t': // TUPLE
                    Push(new PickledTuple([.. PopToMark()]));
                    break;
                case 0x85: // TUPLE1
                    Push(new PickledTuple([Pop()]));
                    break;
                case 0x86: // TUPLE2
                {
                    var b = Pop();
                    var a = Pop();
                    Push(new PickledTuple([a, b]));
                    break;
                }
                case 0x87: // TUPLE3
                {
                    var c = Pop();
                    var b = Pop();
                    var a = Pop();
                    Push(new PickledTuple([a, b, c]));
                    break;
                }
                case (byte)']': // EMPTY_LIST
                    Push(new List<object?>());
                    break;
                case (byte)'l': // LIST
                    Push(PopToMark());
                    break;
                case (byte)'a': // APPEND
                {
                    var item = Pop();
                    ListOnTop(at).Add(item);
                    break;
                }
                case (byte)'e': // APPENDS
                {
                    var items = PopToMark();
                    ListOnTop(at).AddRange(items);
                    break;
                }
                case (byte)'}': // EMPTY_DICT
                    Push(new PickledDict());
                    break;
                case (byte)'d': // DICT
                {
                    var items = PopToMark();
                    var dict = new PickledDict();
                    SetItems(dict, items, at);
                    Push(dict);
                    break;
                }
                case (byte)'s': // SETITEM
                {
                    var value = Pop();
                    var key = Pop();
                    SetItems(DictOnTop(at), [key, value], at);
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    var items = PopToMark();
                    SetItems(DictOnTop(at), items, at);
                    break;
                }
                case (byte)'q': // BINPUT
                    _memo[ReadByte()] = Peek();
                    break;
                case (byte)'r': // LONG_BINPUT
                    _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek();
                    break;
                case (byte)'h': // BINGET
                    Push(Memo(ReadByte(), at));
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at));
                    break;
                case (byte)'c': // GLOBAL
                {
                    string module = Line();
                    string name = Line();
                    Push(TorchGlobals.Resolve(module, name) ?? throw Bad(
                        $"the pickle names the global '{module}.{name}' (byte {at}), which torch.save does not write for a state dict of tensors; refused before anything was built or run. "
                        + "If you trust the file, load it in Python and save its tensors as safetensors"));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop();
                    var callable = Pop();
                    Push(Call(callable, args, at));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    // An OrderedDict's state is its __dict__: the state dict's _metadata (module versions), not needed here.
                    if (Peek() is not PickledDict || state is not (PickledDict or null))
                        throw Bad($"BUILD at byte {at} sets the state of a {Describe(Peek())}; a state dict only sets its OrderedDict's _metadata");
                    break;
                }
                case (byte)'Q': // BINPERSID
                    Push(Storage(Pop(), at));
                    break;
                default:
                    throw Bad($"pickle opcode {OpcodeName(op)} at byte {at} is not one torch.save writes for a state dict; refusing the file");
            }
        }
    }

    private object? Call(object? callable, object? args, int at)
    {
        if (callable is not PickledGlobal g || args is not PickledTuple tuple)
            throw Bad($"REDUCE at byte {at} calls a {Describe(callable)} with {Describe(args)}; only torch's rebuild functions and OrderedDict are called in a state dict");
        var a = tuple.Items;
        switch (g.FullName)
        {
            case TorchGlobals.OrderedDict when a.Length == 0:
                return new PickledDict();
            case TorchGlobals.RebuildTensor when a.Length is 6 or 7:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (a[0] is not StorageReference storage || a[1] is not long offset || a[4] is not bool || a[5] is not PickledDict)
                    throw Bad($"_rebuild_tensor_v2 at byte {at} has arguments ({string.Join(", ", a.Select(Describe))}), not (storage, offset, size, stride, requires_grad, hooks)");
                if (a.Length == 7 && a[6] is PickledDict { Items.Count: > 0 })
                    throw Bad($"tensor at byte {at} carries metadata (conjugate or negative bits, or a tensor subclass), which a plain state dict does not");
                return new TensorReference(storage, offset, Longs(a[2], "size", at), Longs(a[3], "stride", at));
            case TorchGlobals.RebuildParameter when a.Length == 3:
                // (data, requires_grad, backward_hooks): a Parameter is its data here.
                return a[0] is TensorReference t ? t : throw Bad($"_rebuild_parameter at byte {at} wraps a {Describe(a[0])}, not a tensor");
            default:
                throw Bad($"{g.FullName} is called at byte {at} with {a.Length} arguments, which torch.save does not write");
        }
    }

    private StorageReference Storage(object? pid, int at)
    {
        if (pid is not PickledTuple { Items: [string tag, PickledGlobal type, string key, string location, long numel] } || tag != "storage" || type.StorageDType is not { } dtype)
            throw Bad($"persistent id at byte {at} is {Describe(pid)}, not ('storage', torch.<Type>Storage, key, location, numel)");
        if (numel < 0)
            throw Bad($"storage '{key}' declares {numel} elements");
        return new StorageReference(key, type.Name, dtype, location, numel);
    }

    private long[] Longs(object? value, string what, int at) =>
        value is PickledTuple t && t.Items.All(x => x is long)
            ? [.. t.Items.Cast<long>()]
            : throw Bad($"a tensor's {what} at byte {at} is {Describe(value)}, not a tuple of integers");

    private void SetItems(PickledDict dict, IReadOnlyList<object?> items, int at)
    {
        if (items.Count % 2 != 0)
            throw Bad($"SETITEMS at byte {at} has a key without a value");
        for (int i = 0; i < items.Count; i += 2)
        {
            if (items[i] is not (string or long))
                throw Bad($"dict key {Describe(items[i])} at byte {at} is neither a string nor an integer");
            dict.Set(items[i]!, items[i + 1]);
        }
    }

    private List<object?> ListOnTop(int at) => Peek() as List<object?> ?? throw Bad($"APPEND at byte {at} onto a {Describe(Peek())}");

    private PickledDict DictOnTop(int at) => Peek() as PickledDict ?? throw Bad($"SETITEM at byte {at} onto a {Describe(Peek())}");

    private object? Memo(long index, int at) =>
        _memo.TryGetValue(index, out var v) ? v : throw Bad($"memo entry {index} read at byte {at} was never stored");

    private long Long(ReadOnlySpan<byte> bytes, int at)
    {
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : throw Bad($"integer at byte {at} does not fit in 64 bits");
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0)
            throw Bad("the pickle is truncated inside a GLOBAL");
        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Bad("the pickle is truncated (no STOP)");

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _pos + count > _data.Length)
            throw Bad($"the pickle is truncated: {count} bytes wanted at byte {_pos} of {_data.Length}");
        var span = _data.AsSpan(_pos, count);
        _pos += count;
        return span;
    }

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > 0 && _stack[^1] != Mark ? _stack[^1] : throw Bad("the pickle reads a value from an empty stack");

    private object? Pop()
    {
        var v = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0)
            throw Bad("the pickle closes a MARK it never opened");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private static string Describe(object? v) => v switch
    {
        null => "None",
        string s => $"str '{(s.Length > 40 ? s[..40] + "..." : s)}'",
        long l => $"int {l}",
        bool b => b ? "True" : "False",
        double d => $"float {d}",
        PickledTuple t => $"tuple of {t.Items.Length}",
        List<object?> => "list",
        PickledDict => "dict",
        PickledGlobal g => g.FullName,
        StorageReference s => $"storage '{s.Key}'",
        TensorReference => "tensor",
        _ => v.GetType().Name,
    };

    private static string OpcodeName(byte op) => op switch
    {
        (byte)'i' => "INST",
        (byte)'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        (byte)'P' => "PERSID",
        0x82 or 0x83 or 0x84 => "EXT",
        (byte)'p' => "PUT",
        (byte)'g' => "GET",
        (byte)'I' => "INT",
        (byte)'L' => "LONG",
        (byte)'S' => "STRING",
        (byte)'V' => "UNICODE",
        (byte)'F' => "FLOAT",
        0x8c => "SHORT_BINUNICODE",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        (byte)'B' or (byte)'C' or 0x8e => "BINBYTES",
        _ => $"0x{op:x2}",
    } + (op >= 0x20 && op < 0x7f ? $" ('{(char)op}')" : "");

    private LlmMergeException Bad(string what) => new($"{_where}: {what}");
}
