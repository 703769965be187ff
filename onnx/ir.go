// Package onnx is onnxslim's in-memory form of an ONNX model: a graph of Nodes
// connected by Values, each Value knowing its producer and its consumers, with
// a lossless codec to and from the ONNX protobuf format.
//
// Passes edit this IR through the methods here (ReplaceAllUsesWith, InsertBefore,
// Remove, AddInitializer, FreshName, TopoSort, …) and never see protobuf structs.
package onnx

// Model is an ONNX model: metadata, opset imports, the main graph and local functions.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           *Graph
	Metadata        []StringPair
	Functions       []*Function

	// Dir is the folder the model was loaded from; external data is resolved against it.
	Dir string

	// external describes the external data files Load mapped.
	external []ExternalFile

	// Fields onnxslim does not interpret, kept encoded so that they round-trip.
	trainingInfo  [][]byte
	configuration [][]byte
	unknown       []byte
}

// Opset returns the imported version of a domain ("" and "ai.onnx" are the same), or 0.
func (m *Model) Opset(domain string) int64 {
	return opsetOf(m.Opsets, domain)
}

// SetOpset sets (or adds) the imported version of a domain.
func (m *Model) SetOpset(domain string, version int64) {
	for i, o := range m.Opsets {
		if normDomain(o.Domain) == normDomain(domain) {
			m.Opsets[i].Version = version
			return
		}
	}
	m.Opsets = append(m.Opsets, OpsetID{Domain: domain, Version: version})
}

func opsetOf(ops []OpsetID, domain string) int64 {
	for _, o := range ops {
		if normDomain(o.Domain) == normDomain(domain) {
			return o.Version
		}
	}
	return 0
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Function is a model-local function (FunctionProto): a body graph whose Inputs and
// Outputs are the formal parameters, plus the attributes it takes.
type Function struct {
	Name       string
	Domain     string
	Overload   string
	Attributes []string     // attribute names without defaults
	AttrProtos []*Attribute // attributes with default values
	Opsets     []OpsetID
	DocString  string
	Metadata   []StringPair
	Body       *Graph
	unknown    []byte
}

// Graph is a list of nodes with its inputs, outputs and initializers. A subgraph
// (the body of If/Loop/Scan or of a function) has Parent set and may read values
// of the enclosing graphs.
type Graph struct {
	Name         string
	DocString    string
	Inputs       []*Value
	Outputs      []*Value
	Initializers []*Value // values whose Const is set, in file order
	Sparse       []*Value // sparse initializers (Value.Sparse set)
	ValueInfo    []*Value // values with a declared type, in file order
	Nodes        []*Node
	Metadata     []StringPair
	Parent       *Graph // enclosing graph of a subgraph, nil for the main graph
	Owner        *Node  // node whose attribute holds this subgraph

	// LegacyInitializerInputs is set for IR < 4 models, which list every
	// initializer among the graph inputs: there they are constants, not
	// inputs a caller overrides (as ONNX Runtime also treats them).
	LegacyInitializerInputs bool

	quantAnnotations [][]byte
	unknown          []byte
	nameSeq          int
	names            map[string]bool // names in use in the tree (root only), built lazily
}

// Node is one operator application.
type Node struct {
	Name      string
	OpType    string
	Domain    string
	Overload  string
	DocString string
	Attrs     []*Attribute
	Metadata  []StringPair
	Graph     *Graph // the graph that lists this node

	inputs  []*Value // nil entries are omitted optional inputs
	outputs []*Value // nil entries are omitted optional outputs

	deviceConfigs [][]byte
	unknown       []byte
}

// Use is one place a Value is read: input Index of Node.
type Use struct {
	Node  *Node
	Index int
}

// Value is a named edge: a graph input, an initializer, or a node output.
type Value struct {
	Name      string
	Type      *Type // nil when nothing is known
	DocString string
	Metadata  []StringPair
	Const     *Tensor       // initializer data
	Sparse    *SparseTensor // sparse initializer data

	producer *Node
	outIndex int
	uses     []Use
	graph    *Graph // graph that defines the value (input, initializer or producer's graph)
}

// Producer returns the node that computes v, or nil for inputs and initializers.
func (v *Value) Producer() *Node { return v.producer }

// OutputIndex is v's position among its producer's outputs.
func (v *Value) OutputIndex() int { return v.outIndex }

// Uses returns the places v is read (a copy: editing the graph does not change it).
func (v *Value) Uses() []Use { return append([]Use(nil), v.uses...) }

// NumUses is the number of node inputs that read v (graph outputs not counted).
func (v *Value) NumUses() int { return len(v.uses) }

// Consumers returns the distinct nodes that read v, in order of first use.
func (v *Value) Consumers() []*Node {
	var out []*Node
	seen := map[*Node]bool{}
	for _, u := range v.uses {
		if !seen[u.Node] {
			seen[u.Node] = true
			out = append(out, u.Node)
		}
	}
	return out
}

// Graph returns the graph that defines v.
func (v *Value) Graph() *Graph { return v.graph }

// IsConst reports whether v is an initializer (dense or sparse).
func (v *Value) IsConst() bool { return v.Const != nil || v.Sparse != nil }

// IsGraphInput reports whether v is listed among its graph's inputs.
func (v *Value) IsGraphInput() bool { return v.graph != nil && indexOf(v.graph.Inputs, v) >= 0 }

// IsGraphOutput reports whether v is listed among its graph's outputs.
func (v *Value) IsGraphOutput() bool { return v.graph != nil && indexOf(v.graph.Outputs, v) >= 0 }

func (v *Value) String() string { return v.Name }

func indexOf[T comparable](s []T, x T) int {
	for i, y := range s {
		if y == x {
			return i
		}
	}
	return -1
}

// Attribute is a node attribute. Type says which field holds the value; all
// fields are kept so that unusual files round-trip exactly.
type Attribute struct {
	Name          string
	Type          AttrType
	RefAttrName   string // inside a function body: refers to the function's attribute
	DocString     string
	Float         float32
	Int           int64
	String        []byte
	Tensor        *Tensor
	Graph         *Graph
	SparseTensor  *SparseTensor
	TypeValue     *Type
	Floats        []float32
	Ints          []int64
	Strings       [][]byte
	Tensors       []*Tensor
	Graphs        []*Graph
	SparseTensors []*SparseTensor
	TypeValues    []*Type
	unknown       []byte
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// The attribute types, numbered as in onnx.proto.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

// SparseTensor is a sparse initializer or attribute (COO): values, indices and dense dims.
type SparseTensor struct {
	Values  *Tensor
	Indices *Tensor
	Dims    []int64
	unknown []byte
}
