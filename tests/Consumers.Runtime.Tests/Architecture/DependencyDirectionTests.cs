using System.Reflection;
using System.Reflection.Emit;

namespace Consumers.Runtime.Tests.Architecture;

/// <summary>
/// The runtime's folders depend one way (docs/architecture.md, "Which folder may use which"): a folder uses only
/// folders on lower layers. Read from the compiled assembly: every type's signatures, locals and the members its
/// method bodies touch (IL), so a fully qualified name or a lambda cannot hide a dependency.
/// </summary>
public sealed class DependencyDirectionTests
{
    private const string Root = "Consumers.Runtime";

    /// <summary>Lowest first. A folder may use folders on lower layers only; folders on one layer do not use each other.</summary>
    private static readonly string[][] Layers =
    [
        ["Settings", "Shared", "Timeline"],
        ["Failures", "Persistence"],
        ["Telemetry", "Cluster", "Artifacts"],
        ["Leases"],
        ["Checkpoints"],
        ["Stages", "Scratch", "Progress"],
        ["Flow"],
        ["Jobs"],
        ["Messaging"],
        ["Outbox", "Control"],
        ["Pipelines"],
        ["Recovery"],
        ["Composition"],
    ];

    /// <summary>
    /// Dependencies that still run the wrong way, each with why. The list only shrinks: an entry that no longer
    /// happens fails the test too, so it is taken out when the code is fixed.
    /// </summary>
    private static readonly Dictionary<(string From, string To), string> KnownExceptions = new()
    {
        [("Persistence", "Jobs")] = "the EF Core model (ConsumersDbContext, Configurations) names each table's record type",
        [("Persistence", "Cluster")] = "the EF Core model names each table's record type",
        [("Persistence", "Control")] = "the EF Core model names each table's record type and the control columns' limits",
        [("Persistence", "Outbox")] = "the EF Core model names each table's record type",
        [("Persistence", "Checkpoints")] = "the EF Core model names each table's record type",
        [("Persistence", "Pipelines")] = "the EF Core model names each table's record type",
        [("Jobs", "Control")] = "JobStore holds the cancel and retention statements (ControlLimits, RetentionOptions)",
        [("Messaging", "Pipelines")] = "the bus registers the pipeline consumer",
        [("Messaging", "Control")] = "the bus registers the control consumers; JobRequestedConsumer parks jobs of paused stages",
        [("Stages", "Jobs")] = "the synthetic stage reads Consumers:Worker:AllowCrashParameter (WorkerOptions)",
    };

    [Fact]
    public void Every_folder_depends_only_on_lower_layers()
    {
        var wrong = WrongWayEdges()
            .Where(edge => !KnownExceptions.ContainsKey(edge.Key))
            .Select(edge => $"{edge.Key.From} -> {edge.Key.To}: {string.Join(", ", edge.Value.Take(5))}")
            .ToList();
        Assert.True(wrong.Count == 0, "Dependencies running the wrong way (see docs/architecture.md):\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void Known_exceptions_still_exist()
    {
        var edges = WrongWayEdges();
        var gone = KnownExceptions.Keys.Where(key => !edges.ContainsKey(key)).Select(key => $"{key.From} -> {key.To}").ToList();
        Assert.True(gone.Count == 0, "Fixed, take out of KnownExceptions (and docs/architecture.md): " + string.Join(", ", gone));
    }

    [Fact]
    public void Every_folder_has_a_layer()
    {
        var layered = Layers.SelectMany(l => l).ToHashSet(StringComparer.Ordinal);
        var missing = RuntimeTypes().Select(FolderOf).Distinct().Where(f => !layered.Contains(f)).ToList();
        Assert.True(missing.Count == 0, "Folders without a layer (add them to Layers and docs/architecture.md): " + string.Join(", ", missing));
    }

    [Fact]
    public void A_reference_hidden_in_a_method_body_is_seen()
    {
        // The scanner must see what only IL shows: JobStore's body names the job queue through JobQueueName's property.
        Assert.Contains(typeof(Runtime.Flow.Lanes.JobQueueName), ReferencedBy(typeof(Runtime.Jobs.JobStore)));
        Assert.Contains(typeof(Runtime.Leases.IIntakeSwitch), ReferencedBy(typeof(Runtime.Leases.HeartbeatService)));
    }

    private static Dictionary<(string From, string To), SortedSet<string>> WrongWayEdges()
    {
        var layerOf = Layers.SelectMany((folders, layer) => folders.Select(f => (f, layer))).ToDictionary(x => x.f, x => x.layer, StringComparer.Ordinal);
        var edges = new Dictionary<(string, string), SortedSet<string>>();
        foreach (var type in RuntimeTypes().Where(t => t.DeclaringType is null))
        {
            var from = FolderOf(type);
            foreach (var target in ReferencedBy(type))
            {
                var to = FolderOf(target);
                if (to == from || !layerOf.TryGetValue(from, out var fromLayer) || !layerOf.TryGetValue(to, out var toLayer) || toLayer < fromLayer)
                {
                    continue;
                }

                if (!edges.TryGetValue((from, to), out var examples))
                {
                    edges[(from, to)] = examples = new SortedSet<string>(StringComparer.Ordinal);
                }

                examples.Add($"{type.Name} uses {Outermost(target).Name}");
            }
        }

        return edges;
    }

    private static IEnumerable<Type> RuntimeTypes() =>
        typeof(RuntimeServiceCollectionExtensions).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith(Root, StringComparison.Ordinal) == true && !t.Namespace.Contains(".Migrations", StringComparison.Ordinal));

    /// <summary>The folder right under the project; the project's own root holds the composition root and shared JSON options.</summary>
    private static string FolderOf(Type type)
    {
        var outer = Outermost(type);
        var ns = outer.Namespace ?? Root;
        if (ns == Root)
        {
            return outer == typeof(ContractJson) ? "Shared" : "Composition";
        }

        return ns[(Root.Length + 1)..].Split('.')[0];
    }

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type;
    }

    /// <summary>Runtime types that <paramref name="type"/> (and every type nested in it, lambdas and state machines included) uses.</summary>
    private static HashSet<Type> ReferencedBy(Type type)
    {
        var found = new HashSet<Type>();
        var runtime = type.Assembly;
        void Add(Type? t)
        {
            if (t is null)
            {
                return;
            }

            if (t.HasElementType)
            {
                Add(t.GetElementType());
                return;
            }

            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }

                t = t.GetGenericTypeDefinition();
            }

            // Compiler-made helpers (anonymous types, collection literals) have no namespace and belong to no folder.
            if (t.Assembly == runtime && !t.IsGenericParameter && t.Namespace?.StartsWith(Root, StringComparison.Ordinal) == true)
            {
                found.Add(t);
            }
        }

        foreach (var current in SelfAndNested(type))
        {
            Add(current.BaseType);
            foreach (var i in current.GetInterfaces())
            {
                Add(i);
            }

            const BindingFlags all = BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
            foreach (var field in current.GetFields(all))
            {
                Add(field.FieldType);
            }

            foreach (var property in current.GetProperties(all))
            {
                Add(property.PropertyType);
            }

            foreach (var method in current.GetMethods(all).Cast<MethodBase>().Concat(current.GetConstructors(all)))
            {
                if (method is MethodInfo info)
                {
                    Add(info.ReturnType);
                }

                foreach (var parameter in method.GetParameters())
                {
                    Add(parameter.ParameterType);
                }

                var body = method.GetMethodBody();
                if (body is null)
                {
                    continue;
                }

                foreach (var local in body.LocalVariables)
                {
                    Add(local.LocalType);
                }

                foreach (var member in MembersUsedBy(method, body))
                {
                    switch (member)
                    {
                        case Type t:
                            Add(t);
                            break;
                        case MethodBase m:
                            Add(m.DeclaringType);
                            if (m is MethodInfo { IsGenericMethod: true } generic)
                            {
                                foreach (var argument in generic.GetGenericArguments())
                                {
                                    Add(argument);
                                }
                            }

                            break;
                        case FieldInfo f:
                            Add(f.DeclaringType);
                            Add(f.FieldType);
                            break;
                    }
                }
            }
        }

        return found;
    }

    private static IEnumerable<Type> SelfAndNested(Type type) =>
        new[] { type }.Concat(type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic).SelectMany(SelfAndNested));

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(op => op.Value);

    /// <summary>The members a method body's IL names (calls, field accesses, type tokens).</summary>
    private static IEnumerable<MemberInfo> MembersUsedBy(MethodBase method, MethodBody body)
    {
        var il = body.GetILAsByteArray() ?? [];
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[position++]));
            }

            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineField:
                case OperandType.InlineMethod:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, position);
                    MemberInfo? member = null;
                    try
                    {
                        member = method.Module.ResolveMember(token, typeArguments, methodArguments);
                    }
                    catch (ArgumentException)
                    {
                        // A token of a generic context we cannot supply: its declaring type shows up in the signatures anyway.
                    }

                    if (member is not null)
                    {
                        yield return member;
                    }

                    position += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    position += 8;
                    break;
                case OperandType.InlineSwitch:
                    var count = BitConverter.ToInt32(il, position);
                    position += 4 + (count * 4);
                    break;
                default:
                    position += 4;
                    break;
            }
        }
    }
}
