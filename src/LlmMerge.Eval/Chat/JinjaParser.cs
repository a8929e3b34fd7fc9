using System.Globalization;

namespace LlmMerge.Eval.Chat;

/// <summary>
/// Parses template tokens into statements and expressions with jinja2's grammar and operator precedence
/// (jinja2/parser.py): conditional expressions, or, and, not, comparisons and in, + and -, ~, * / // %, **, unary
/// signs, then primaries with attribute, item, slice and call postfixes, and filters (<c>|</c>) and tests
/// (<c>is</c>) that bind tighter than any binary operator. Statements: for (with else, inline if, tuple targets),
/// if/elif/else, set (names, tuples, namespace attributes, blocks), break/continue, and transformers' generation
/// block. Other statements (macro, call, include, import, extends, block, filter, with, raw, ...) are refused with
/// their name and line.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "macro", "call", "filter", "include", "import", "from", "extends", "block", "with", "autoescape", "do", "raw", "trans", "pluralize",
    };

    private static readonly HashSet<string> EndWords = new(StringComparer.Ordinal)
    {
        "endfor", "endif", "endset", "endgeneration", "else", "elif", "endmacro", "endcall", "endfilter", "endblock", "endwith", "endraw",
    };

    private readonly List<JinjaToken> _tokens;
    private int _pos;
    private int _loopDepth;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static List<JinjaStatement> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.Body([]);
        if (parser.Current.Kind != JinjaTokenKind.End)
            throw new JinjaException($"unexpected '{parser.Peek(1).Value}' with no block to close", parser.Current.Line);
        return body;
    }

    private JinjaToken Current => _tokens[_pos];

    private JinjaToken Peek(int ahead) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private JinjaToken Next() => _tokens[_pos++];

    private bool AtName(string name) => Current.IsName(name);

    private bool AtOp(string op) => Current.IsOperator(op);

    private bool TakeName(string name)
    {
        if (!AtName(name)) return false;
        _pos++;
        return true;
    }

    private bool TakeOp(string op)
    {
        if (!AtOp(op)) return false;
        _pos++;
        return true;
    }

    private void Expect(JinjaTokenKind kind, string what)
    {
        if (Current.Kind != kind) throw new JinjaException($"expected {what}, found {Current}", Current.Line);
        _pos++;
    }

    private void ExpectOp(string op)
    {
        if (!TakeOp(op)) throw new JinjaException($"expected '{op}', found {Current}", Current.Line);
    }

    private string ExpectName(string what)
    {
        if (Current.Kind != JinjaTokenKind.Name) throw new JinjaException($"expected {what}, found {Current}", Current.Line);
        return Next().Value;
    }

    // Statements up to a block tag whose first word is in `ends` (left unread, after its '{%'), or the end.
    private List<JinjaStatement> Body(string[] ends)
    {
        var body = new List<JinjaStatement>();
        while (true)
        {
            JinjaToken t = Current;
            switch (t.Kind)
            {
                case JinjaTokenKind.End:
                    if (ends.Length > 0) throw new JinjaException($"the template ends before '{{% {ends[^1]} %}}'", t.Line);
                    return body;
                case JinjaTokenKind.Data:
                    _pos++;
                    body.Add(new TextStatement(t.Value, t.Line));
                    break;
                case JinjaTokenKind.VariableBegin:
                    _pos++;
                    body.Add(new PrintStatement(Tuple(), t.Line));
                    Expect(JinjaTokenKind.VariableEnd, "'}}'");
                    break;
                case JinjaTokenKind.BlockBegin:
                {
                    JinjaToken word = Peek(1);
                    if (word.Kind == JinjaTokenKind.Name && ends.Contains(word.Value))
                    {
                        _pos++;
                        return body;
                    }

                    if (word.Kind == JinjaTokenKind.Name && EndWords.Contains(word.Value))
                        throw new JinjaException($"unexpected '{{% {word.Value} %}}'{(ends.Length > 0 ? $" (expected '{{% {ends[^1]} %}}')" : "")}", word.Line);
                    _pos++;
                    body.Add(Statement());
                    break;
                }

                default:
                    throw new JinjaException($"unexpected {t}", t.Line);
            }
        }
    }

    private JinjaStatement Statement()
    {
        JinjaToken word = Current;
        if (word.Kind != JinjaTokenKind.Name) throw new JinjaException($"expected a statement name after '{{%', found {word}", word.Line);
        _pos++;
        switch (word.Value)
        {
            case "for": return For(word.Line);
            case "if": return If(word.Line);
            case "set": return Set(word.Line);
            case "break" or "continue":
                if (_loopDepth == 0) throw new JinjaException($"'{word.Value}' outside a loop", word.Line);
                Expect(JinjaTokenKind.BlockEnd, "'%}'");
                return new LoopControlStatement(word.Value == "break" ? JinjaFlow.Break : JinjaFlow.Continue, word.Line);
            case "generation":
            {
                Expect(JinjaTokenKind.BlockEnd, "'%}'");
                var body = Body(["endgeneration"]);
                Next();
                Expect(JinjaTokenKind.BlockEnd, "'%}'");
                return new BodyStatement(body, word.Line);
            }

            default:
                if (Unsupported.Contains(word.Value))
                    throw new JinjaException($"the '{word.Value}' statement is not supported by llmmerge's template renderer (supported: for, if, set, break, continue, generation)", word.Line);
                throw new JinjaException($"unknown statement '{word.Value}'", word.Line);
        }
    }

    private JinjaStatement For(int line)
    {
        var targets = Targets();
        if (!TakeName("in")) throw new JinjaException($"expected 'in' in the for statement, found {Current}", Current.Line);
        JinjaExpr items = Tuple(withCondExpr: false);
        JinjaExpr? filter = TakeName("if") ? Expression() : null;
        if (AtName("recursive")) throw new JinjaException("recursive for loops are not supported by llmmerge's template renderer", Current.Line);
        Expect(JinjaTokenKind.BlockEnd, "'%}'");
        _loopDepth++;
        var body = Body(["endfor", "else"]);
        _loopDepth--;
        List<JinjaStatement>? otherwise = null;
        if (Next().Value == "else")
        {
            Expect(JinjaTokenKind.BlockEnd, "'%}'");
            otherwise = Body(["endfor"]);
            Next();
        }

        Expect(JinjaTokenKind.BlockEnd, "'%}'");
        return new ForStatement(targets, items, filter, body, otherwise, line);
    }

    private JinjaStatement If(int line)
    {
        var branches = new List<(JinjaExpr, List<JinjaStatement>)>();
        List<JinjaStatement>? otherwise = null;
        JinjaExpr test = Tuple();
        while (true)
        {
            Expect(JinjaTokenKind.BlockEnd, "'%}'");
            var body = Body(["elif", "else", "endif"]);
            branches.Add((test, body));
            string word = Next().Value;
            if (word == "elif")
            {
                test = Tuple();
                continue;
            }

            if (word == "else")
            {
                Expect(JinjaTokenKind.BlockEnd, "'%}'");
                otherwise = Body(["endif"]);
                Next();
            }

            Expect(JinjaTokenKind.BlockEnd, "'%}'");
            return new IfStatement(branches, otherwise, line);
        }
    }

    private JinjaStatement Set(int line)
    {
        string first = ExpectName("a name to set");
        if (TakeOp("."))
        {
            string attribute = ExpectName("an attribute name");
            ExpectOp("=");
            JinjaExpr v = Tuple();
            Expect(JinjaTokenKind.BlockEnd, "'%}'");
            return new SetStatement([first], attribute, v, line);
        }

        var targets = new List<string> { first };
        while (TakeOp(",")) targets.Add(ExpectName("a name to set"));
        if (TakeOp("="))
        {
            JinjaExpr v = Tuple();
            Expect(JinjaTokenKind.BlockEnd, "'%}'");
            return new SetStatement(targets, null, v, line);
        }

        if (AtOp("|")) throw new JinjaException("filtered set blocks ({% set x | filter %}) are not supported by llmmerge's template renderer", Current.Line);
        if (targets.Count > 1) throw new JinjaException("a set block assigns one name", line);
        Expect(JinjaTokenKind.BlockEnd, "'%}'");
        var body = Body(["endset"]);
        Next();
        Expect(JinjaTokenKind.BlockEnd, "'%}'");
        return new SetBlockStatement(first, body, line);
    }

    private List<string> Targets()
    {
        bool paren = TakeOp("(");
        var names = new List<string> { ExpectName("a loop variable") };
        while (TakeOp(",")) names.Add(ExpectName("a loop variable"));
        if (paren) ExpectOp(")");
        return names;
    }

    // jinja2's parse_tuple: an expression, or several separated by commas (a tuple, held as a list).
    private JinjaExpr Tuple(bool withCondExpr = true)
    {
        int line = Current.Line;
        JinjaExpr first = withCondExpr ? Expression() : Or();
        if (!AtOp(",")) return first;
        var items = new List<JinjaExpr> { first };
        while (TakeOp(","))
        {
            if (Current.Kind is JinjaTokenKind.BlockEnd or JinjaTokenKind.VariableEnd || AtOp(")")) break;
            items.Add(withCondExpr ? Expression() : Or());
        }

        return new ListExpr(items, line);
    }

    private JinjaExpr Expression()
    {
        JinjaExpr e = Or();
        while (AtName("if"))
        {
            int line = Next().Line;
            JinjaExpr test = Or();
            JinjaExpr? otherwise = TakeName("else") ? Expression() : null;
            e = new CondExpr(test, e, otherwise, line);
        }

        return e;
    }

    private JinjaExpr Or()
    {
        JinjaExpr e = And();
        while (AtName("or"))
        {
            int line = Next().Line;
            e = new LogicExpr(false, e, And(), line);
        }

        return e;
    }

    private JinjaExpr And()
    {
        JinjaExpr e = Not();
        while (AtName("and"))
        {
            int line = Next().Line;
            e = new LogicExpr(true, e, Not(), line);
        }

        return e;
    }

    private JinjaExpr Not()
    {
        if (AtName("not"))
        {
            int line = Next().Line;
            return new NotExpr(Not(), line);
        }

        return Compare();
    }

    private JinjaExpr Compare()
    {
        int line = Current.Line;
        JinjaExpr first = Math1();
        var rest = new List<(string, JinjaExpr)>();
        while (true)
        {
            if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                string op = Next().Value;
                rest.Add((op, Math1()));
            }
            else if (AtName("in"))
            {
                _pos++;
                rest.Add(("in", Math1()));
            }
            else if (AtName("not") && Peek(1).IsName("in"))
            {
                _pos += 2;
                rest.Add(("notin", Math1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private JinjaExpr Math1()
    {
        JinjaExpr e = Concat();
        while (AtOp("+") || AtOp("-"))
        {
            JinjaToken op = Next();
            e = new BinaryExpr(op.Value, e, Concat(), op.Line);
        }

        return e;
    }

    private JinjaExpr Concat()
    {
        JinjaExpr e = Math2();
        while (AtOp("~"))
        {
            int line = Next().Line;
            e = new BinaryExpr("~", e, Math2(), line);
        }

        return e;
    }

    private JinjaExpr Math2()
    {
        JinjaExpr e = Pow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            JinjaToken op = Next();
            e = new BinaryExpr(op.Value, e, Pow(), op.Line);
        }

        return e;
    }

    private JinjaExpr Pow()
    {
        JinjaExpr e = Unary(withFilter: true);
        while (AtOp("**"))
        {
            int line = Next().Line;
            e = new BinaryExpr("**", e, Unary(withFilter: true), line);
        }

        return e;
    }

    private JinjaExpr Unary(bool withFilter)
    {
        JinjaExpr e;
        if (AtOp("-") || AtOp("+"))
        {
            JinjaToken sign = Next();
            e = new NegExpr(Unary(withFilter: false), sign.Value == "-", sign.Line);
        }
        else
        {
            e = Primary();
        }

        e = Postfix(e);
        return withFilter ? FilterTail(e) : e;
    }

    private JinjaExpr Primary()
    {
        JinjaToken t = Next();
        switch (t.Kind)
        {
            case JinjaTokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(true, t.Line),
                    "false" or "False" => new ConstExpr(false, t.Line),
                    "none" or "None" => new ConstExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case JinjaTokenKind.String:
            {
                // Adjacent string literals join, as in Python.
                string s = t.Value;
                while (Current.Kind == JinjaTokenKind.String) s += Next().Value;
                return new ConstExpr(s, t.Line);
            }

            case JinjaTokenKind.Integer:
                return new ConstExpr(long.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case JinjaTokenKind.Float:
                return new ConstExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case JinjaTokenKind.Operator when t.Value == "(":
            {
                if (TakeOp(")")) return new ListExpr([], t.Line);
                JinjaExpr inner = Tuple();
                ExpectOp(")");
                return inner;
            }

            case JinjaTokenKind.Operator when t.Value == "[":
            {
                var items = new List<JinjaExpr>();
                while (!AtOp("]"))
                {
                    items.Add(Expression());
                    if (!TakeOp(",")) break;
                }

                ExpectOp("]");
                return new ListExpr(items, t.Line);
            }

            case JinjaTokenKind.Operator when t.Value == "{":
            {
                var pairs = new List<(JinjaExpr, JinjaExpr)>();
                while (!AtOp("}"))
                {
                    JinjaExpr key = Expression();
                    ExpectOp(":");
                    pairs.Add((key, Expression()));
                    if (!TakeOp(",")) break;
                }

                ExpectOp("}");
                return new DictExpr(pairs, t.Line);
            }

            default:
                throw new JinjaException($"unexpected {t} in an expression", t.Line);
        }
    }

    private JinjaExpr Postfix(JinjaExpr e)
    {
        while (true)
        {
            if (AtOp("."))
            {
                int line = Next().Line;
                if (Current.Kind == JinjaTokenKind.Integer)
                    e = new ItemExpr(e, new ConstExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture), line), line);
                else
                    e = new AttrExpr(e, ExpectName("an attribute name after '.'"), line);
            }
            else if (AtOp("["))
            {
                int line = Next().Line;
                e = Subscript(e, line);
            }
            else if (AtOp("("))
            {
                int line = Next().Line;
                var (args, kwargs) = CallArguments();
                e = new CallExpr(e, args, kwargs, line);
            }
            else
            {
                return e;
            }
        }
    }

    private JinjaExpr Subscript(JinjaExpr target, int line)
    {
        JinjaExpr? start = AtOp(":") ? null : Expression();
        if (!TakeOp(":"))
        {
            ExpectOp("]");
            return new ItemExpr(target, start!, line);
        }

        JinjaExpr? stop = AtOp(":") || AtOp("]") ? null : Expression();
        JinjaExpr? step = null;
        if (TakeOp(":") && !AtOp("]")) step = Expression();
        ExpectOp("]");
        return new SliceExpr(target, start, stop, step, line);
    }

    // After "(": positional and keyword arguments up to ")".
    private (List<JinjaExpr>, List<(string, JinjaExpr)>) CallArguments()
    {
        var args = new List<JinjaExpr>();
        var kwargs = new List<(string, JinjaExpr)>();
        while (!AtOp(")"))
        {
            if (AtOp("*") || AtOp("**")) throw new JinjaException("*args and **kwargs in calls are not supported by llmmerge's template renderer", Current.Line);
            if (Current.Kind == JinjaTokenKind.Name && Peek(1).IsOperator("="))
            {
                string name = Next().Value;
                _pos++;
                kwargs.Add((name, Expression()));
            }
            else
            {
                if (kwargs.Count > 0) throw new JinjaException("a positional argument follows a keyword argument", Current.Line);
                args.Add(Expression());
            }

            if (!TakeOp(",")) break;
        }

        ExpectOp(")");
        return (args, kwargs);
    }

    private JinjaExpr FilterTail(JinjaExpr e)
    {
        while (true)
        {
            if (AtOp("|"))
            {
                int line = Next().Line;
                string name = ExpectName("a filter name after '|'");
                if (!JinjaFilters.Names.Contains(name))
                    throw new JinjaException($"the filter '{name}' is not supported by llmmerge's template renderer (supported: {string.Join(", ", JinjaFilters.Names)})", line);
                var (args, kwargs) = TakeOp("(") ? CallArguments() : ([], []);
                e = new FilterExpr(e, name, args, kwargs, line);
            }
            else if (AtName("is"))
            {
                int line = Next().Line;
                bool negated = TakeName("not");
                string name = Current.Kind == JinjaTokenKind.Operator && Current.Value is "==" or "!=" or "<" or "<=" or ">" or ">="
                    ? Next().Value
                    : ExpectName("a test name after 'is'");
                if (!JinjaTests.Names.Contains(name))
                    throw new JinjaException($"the test '{name}' is not supported by llmmerge's template renderer (supported: {string.Join(", ", JinjaTests.Names.Where(n => char.IsLetter(n[0])))})", line);
                var args = new List<JinjaExpr>();
                if (TakeOp("("))
                {
                    var (a, kw) = CallArguments();
                    if (kw.Count > 0) throw new JinjaException($"the test '{name}' takes no keyword arguments", line);
                    args = a;
                }
                else if (StartsArgument())
                {
                    args.Add(Postfix(Primary()));
                }

                e = new TestExpr(e, name, args, negated, line);
            }
            else
            {
                return e;
            }
        }
    }

    // jinja2 takes one bare argument after a test name (`x is divisibleby 3`) when a primary follows.
    private bool StartsArgument() => Current.Kind switch
    {
        JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float => true,
        JinjaTokenKind.Name => Current.Value is not ("else" or "or" or "and" or "if" or "in" or "not" or "is"),
        JinjaTokenKind.Operator => Current.Value is "[" or "{",
        _ => false,
    };
}
