package resp

//go:generate go run gen_commands.go -addr 127.0.0.1:16379

import (
	"fmt"
	"slices"
	"strings"
)

// Route says who answers a command.
type Route uint8

const (
	// RouteLocal commands are answered by resp itself (PING, CLIENT, INFO...).
	RouteLocal Route = iota
	// RouteKeyed commands go to Backend.Exec with the slot of their keys.
	RouteKeyed
	// RouteNodeWide commands go to Backend.Exec with Slot -1 (KEYS, DBSIZE...).
	RouteNodeWide
	// RouteCluster commands go to Backend.Cluster.
	RouteCluster
)

// Command is one entry of the client command table: what redis-server 7.0
// reports for it in COMMAND INFO and COMMAND DOCS, plus how Troika routes
// it. Subcommands are separate entries named "container|sub".
type Command struct {
	Name     string // full lower-case name: "get", "client|setname"
	Arity    int    // Redis convention: N exact, -N at least N (name included)
	Route    Route
	Flags    []string // COMMAND INFO flags, in Redis's order
	FirstKey int      // legacy key range: first, last (negative: from the end), step
	LastKey  int
	Step     int
	ACL      []string // ACL categories ("@read", ...)
	Tips     []string // command tips ("nondeterministic_output", ...)
	KeySpecs []KeySpec
	Doc      Doc

	// Set by buildTable.
	Subcommands []*Command // sorted by name
	parent      *Command
	write       bool // flag "write"
	noAuth      bool // flag "no_auth"
	skipSlowlog bool // flag "skip_slowlog"
	run         handler
	index       int // position in table.all (per-server statistics)
}

// KeySpec is a Redis 7 key specification.
type KeySpec struct {
	Notes string
	Flags []string // RW/RO/OW/RM, access/update/insert/delete, ...
	Begin BeginSearch
	Find  FindKeys
}

// BeginSearch says where the search for keys starts.
type BeginSearch struct {
	Type      string // "index", "keyword" or "unknown"
	Index     int    // index: position of the first key
	Keyword   string // keyword: the token before the keys
	StartFrom int    // keyword: where to start looking for it (negative: from the end)
}

// FindKeys says which arguments after the begin position are keys.
type FindKeys struct {
	Type      string // "range", "keynum" or "unknown"
	LastKey   int    // range: last key relative to the begin (negative: from the end)
	KeyStep   int    // range and keynum
	Limit     int    // range: with LastKey -1, take 1/Limit of the remaining args
	KeyNumIdx int    // keynum: position of the key count relative to the begin
	FirstKey  int    // keynum: first key relative to the begin
}

// Doc is a command's COMMAND DOCS entry.
type Doc struct {
	Summary         string
	Since           string
	Group           string
	Complexity      string
	DeprecatedSince string
	ReplacedBy      string
	DocFlags        []string
	History         [][2]string
	Args            []Arg
}

// Arg is one documented argument.
type Arg struct {
	Name            string
	Type            string
	KeySpecIndex    int // meaningful when Type == "key"
	Token           string
	Summary         string
	Since           string
	DeprecatedSince string
	Flags           []string
	Args            []Arg
}

func words(s string) []string      { return strings.Fields(s) }
func beginIndex(i int) BeginSearch { return BeginSearch{Type: "index", Index: i} }
func findRange(last, step, limit int) FindKeys {
	return FindKeys{Type: "range", LastKey: last, KeyStep: step, Limit: limit}
}
func beginKeyword(kw string, from int) BeginSearch {
	return BeginSearch{Type: "keyword", Keyword: kw, StartFrom: from}
}
func findKeynum(idx, first, step int) FindKeys {
	return FindKeys{Type: "keynum", KeyNumIdx: idx, FirstKey: first, KeyStep: step}
}

// table is the immutable command table, built once.
type table struct {
	top    map[string]*Command // top-level commands by lower-case name
	sorted []*Command          // top-level commands sorted by name
	all    []*Command          // every command and subcommand, sorted by full name
}

// commandTable is built at init from the generated lists and the local
// handlers; a mismatch between them is a programming error and panics.
// (It is assigned in init because handlers such as COMMAND read it.)
var commandTable *table

func init() {
	t, err := buildTable(slices.Concat(stringCommands, listCommands, keyCommands, serverCommands, extraCommands, clusterCommands, pubsubCommands, txnCommands),
		localHandlers())
	if err != nil {
		panic(err)
	}
	commandTable = t
}

func buildTable(list []*Command, handlers map[string]handler) (*table, error) {
	t := &table{top: make(map[string]*Command)}
	for _, c := range list {
		c.write = slices.Contains(c.Flags, "write")
		c.noAuth = slices.Contains(c.Flags, "no_auth")
		c.skipSlowlog = slices.Contains(c.Flags, "skip_slowlog")
		parentName, _, isSub := strings.Cut(c.Name, "|")
		if !isSub {
			if _, dup := t.top[c.Name]; dup {
				return nil, fmt.Errorf("resp: command %q listed twice", c.Name)
			}
			t.top[c.Name] = c
			t.sorted = append(t.sorted, c)
			continue
		}
		p, ok := t.top[parentName]
		if !ok {
			return nil, fmt.Errorf("resp: subcommand %q listed before its container", c.Name)
		}
		c.parent = p
		p.Subcommands = append(p.Subcommands, c)
	}
	for _, c := range t.sorted {
		t.all = append(t.all, c)
		slices.SortFunc(c.Subcommands, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
		t.all = append(t.all, c.Subcommands...)
	}
	slices.SortFunc(t.sorted, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.all, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
	for i, c := range t.all {
		c.index = i
	}
	for name := range handlers {
		if c := t.byFullName(name); c == nil || c.Route != RouteLocal {
			return nil, fmt.Errorf("resp: handler for %q, which is not a local command", name)
		}
	}
	for _, c := range t.all {
		if c.Route == RouteLocal {
			h, ok := handlers[c.Name]
			if !ok && len(c.Subcommands) == 0 {
				return nil, fmt.Errorf("resp: local command %q has no handler", c.Name)
			}
			c.run = h
		}
	}
	return t, nil
}

// lookupResult is what the table says about a request's argv.
type lookupResult struct {
	cmd *Command
	// err is the rejection when cmd is nil or the arity is wrong.
	err string
}

// lookup finds the command for args, checking arity the way Redis 7.0's
// processCommand does: unknown command, then unknown subcommand, then
// wrong number of arguments. Names are matched case-insensitively.
func (t *table) lookup(args [][]byte) lookupResult {
	c := t.top[lowerASCII(args[0])]
	if c == nil {
		return lookupResult{err: unknownCommandText(args)}
	}
	if len(c.Subcommands) > 0 && len(args) >= 2 {
		sub := c.findSub(lowerASCII(args[1]))
		switch {
		case sub != nil:
			c = sub
		case c.Route == RouteCluster:
			// The backend owns the CLUSTER family, including the texts of
			// subcommands it does not know; the container's arity applies.
		default:
			return lookupResult{err: unknownSubcommandText(args[1], c.Name)}
		}
	}
	if !arityOK(c.Arity, len(args)) {
		return lookupResult{cmd: c, err: wrongArgsText(c.Name)}
	}
	return lookupResult{cmd: c}
}

func (c *Command) findSub(name string) *Command {
	full := c.Name + "|" + name
	i, ok := slices.BinarySearchFunc(c.Subcommands, full, func(s *Command, n string) int { return strings.Compare(s.Name, n) })
	if !ok {
		return nil
	}
	return c.Subcommands[i]
}

// byFullName finds "get" or "client|list" (case-insensitive).
func (t *table) byFullName(name string) *Command {
	name = strings.ToLower(name)
	parent, sub, isSub := strings.Cut(name, "|")
	c := t.top[parent]
	if c == nil || !isSub {
		return c
	}
	return c.findSub(sub)
}

func arityOK(arity, argc int) bool {
	if arity >= 0 {
		return argc == arity
	}
	return argc >= -arity
}

// lowerASCII lower-cases a command name. Names are short; the conversion
// allocates only when the name has an upper-case letter.
func lowerASCII(b []byte) string {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return strings.ToLower(string(b))
		}
	}
	return string(b)
}
