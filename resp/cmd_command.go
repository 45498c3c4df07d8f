package resp

import (
	"slices"
	"strings"

	"github.com/troika-db/troika/fsm"
)

var commandHelp = []string{
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
}

// cmdCommand is COMMAND with no subcommand: the info of every command.
func cmdCommand(c *conn, _ [][]byte) {
	c.w.arrayLen(len(commandTable.sorted))
	for _, cmd := range commandTable.sorted {
		c.w.commandInfo(cmd)
	}
}

func cmdCommandCount(c *conn, _ [][]byte) { c.w.int(int64(len(commandTable.sorted))) }

// cmdCommandInfo is COMMAND INFO [name ...]; unknown names give a null.
func cmdCommandInfo(c *conn, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.w.arrayLen(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := commandTable.byFullName(string(a)); cmd != nil {
			c.w.commandInfo(cmd)
		} else {
			c.w.null()
		}
	}
}

// cmdCommandDocs is COMMAND DOCS [name ...]: a map from name to docs;
// unknown names are left out.
func cmdCommandDocs(c *conn, args [][]byte) {
	list := commandTable.sorted
	if len(args) > 2 {
		list = nil
		for _, a := range args[2:] {
			if cmd := commandTable.byFullName(string(a)); cmd != nil {
				list = append(list, cmd)
			}
		}
	}
	c.w.mapLen(len(list))
	for _, cmd := range list {
		c.w.bulkStr(cmd.Name)
		c.w.commandDocs(cmd)
	}
}

// cmdCommandList is COMMAND LIST [FILTERBY MODULE m | ACLCAT cat | PATTERN p].
func cmdCommandList(c *conn, args [][]byte) {
	match := func(*Command) bool { return true }
	switch {
	case len(args) == 2:
	case len(args) == 5 && strings.EqualFold(string(args[2]), "filterby"):
		arg := string(args[4])
		switch strings.ToLower(string(args[3])) {
		case "module":
			match = func(*Command) bool { return false }
		case "aclcat":
			match = func(cmd *Command) bool { return hasWord(cmd.ACL, "@"+strings.ToLower(arg)) }
		case "pattern":
			match = func(cmd *Command) bool { return fsm.GlobMatchString(arg, cmd.Name, true) }
		default:
			c.w.error(msgSyntax)
			return
		}
	default:
		c.w.error(msgSyntax)
		return
	}
	var names []string
	for _, cmd := range commandTable.all {
		if match(cmd) {
			names = append(names, cmd.Name)
		}
	}
	c.w.arrayLen(len(names))
	for _, n := range names {
		c.w.bulkStr(n)
	}
}

// cmdCommandGetKeys is COMMAND GETKEYS and GETKEYSANDFLAGS.
func cmdCommandGetKeys(c *conn, args [][]byte) {
	withFlags := strings.EqualFold(string(args[1]), "getkeysandflags")
	argv := args[2:]
	cmd := commandTable.top[lowerASCII(argv[0])]
	if cmd != nil && len(cmd.Subcommands) > 0 && len(argv) >= 2 {
		cmd = cmd.findSub(lowerASCII(argv[1]))
	}
	switch {
	case cmd == nil:
		c.w.error(msgInvalidCommand)
		return
	case !slices.ContainsFunc(cmd.KeySpecs, func(s KeySpec) bool { return !hasWord(s.Flags, "not_key") }):
		// Redis's doesCommandHaveKeys: a spec not marked not_key (SSUBSCRIBE's channels are not keys).
		c.w.error(msgNoKeyArgs)
		return
	case !arityOK(cmd.Arity, len(argv)):
		c.w.error(msgGetKeysArity)
		return
	}
	keys, ok := cmd.getKeys(argv, nil)
	if !ok || len(keys) == 0 {
		if hasWord(cmd.Flags, "no_mandatory_keys") {
			c.w.arrayLen(0)
		} else {
			c.w.error(msgGetKeysInvalid)
		}
		return
	}
	c.w.arrayLen(len(keys))
	for _, k := range keys {
		if withFlags {
			c.w.arrayLen(2)
			c.w.bulk(argv[k.pos])
			c.w.statusSet(k.flags)
		} else {
			c.w.bulk(argv[k.pos])
		}
	}
}

// commandInfo writes one COMMAND INFO entry as Redis 7.0's
// addReplyCommandInfo does.
func (w *writer) commandInfo(c *Command) {
	w.arrayLen(10)
	w.bulkStr(c.Name)
	w.int(int64(c.Arity))
	w.statusSet(c.Flags)
	w.int(int64(c.FirstKey))
	w.int(int64(c.LastKey))
	w.int(int64(c.Step))
	w.statusSet(c.ACL)
	w.setLen(len(c.Tips))
	for _, t := range c.Tips {
		w.bulkStr(t)
	}
	w.setLen(len(c.KeySpecs))
	for i := range c.KeySpecs {
		w.keySpec(&c.KeySpecs[i])
	}
	if len(c.Subcommands) == 0 {
		w.setLen(0) // Redis's quirk: an empty set, but an array when non-empty
		return
	}
	w.arrayLen(len(c.Subcommands))
	for _, s := range c.Subcommands {
		w.commandInfo(s)
	}
}

func (w *writer) keySpec(ks *KeySpec) {
	n := 3
	if ks.Notes != "" {
		n++
	}
	w.mapLen(n)
	if ks.Notes != "" {
		w.bulkStr("notes")
		w.bulkStr(ks.Notes)
	}
	w.bulkStr("flags")
	w.statusSet(ks.Flags)

	w.bulkStr("begin_search")
	w.mapLen(2)
	w.bulkStr("type")
	w.bulkStr(ks.Begin.Type)
	w.bulkStr("spec")
	switch ks.Begin.Type {
	case "index":
		w.mapLen(1)
		w.bulkStr("index")
		w.int(int64(ks.Begin.Index))
	case "keyword":
		w.mapLen(2)
		w.bulkStr("keyword")
		w.bulkStr(ks.Begin.Keyword)
		w.bulkStr("startfrom")
		w.int(int64(ks.Begin.StartFrom))
	default:
		w.mapLen(0)
	}

	w.bulkStr("find_keys")
	w.mapLen(2)
	w.bulkStr("type")
	w.bulkStr(ks.Find.Type)
	w.bulkStr("spec")
	switch ks.Find.Type {
	case "range":
		w.mapLen(3)
		w.bulkStr("lastkey")
		w.int(int64(ks.Find.LastKey))
		w.bulkStr("keystep")
		w.int(int64(ks.Find.KeyStep))
		w.bulkStr("limit")
		w.int(int64(ks.Find.Limit))
	case "keynum":
		w.mapLen(3)
		w.bulkStr("keynumidx")
		w.int(int64(ks.Find.KeyNumIdx))
		w.bulkStr("firstkey")
		w.int(int64(ks.Find.FirstKey))
		w.bulkStr("keystep")
		w.int(int64(ks.Find.KeyStep))
	default:
		w.mapLen(0)
	}
}

// commandDocs writes one COMMAND DOCS entry as Redis 7.0's
// addReplyCommandDocs does (field order and presence).
func (w *writer) commandDocs(c *Command) {
	d := &c.Doc
	n := 1 // group is always present
	for _, present := range []bool{d.Summary != "", d.Since != "", d.Complexity != "", len(d.DocFlags) > 0,
		d.DeprecatedSince != "", d.ReplacedBy != "", len(d.History) > 0, len(d.Args) > 0, len(c.Subcommands) > 0} {
		if present {
			n++
		}
	}
	w.mapLen(n)
	str := func(k, v string) {
		if v != "" {
			w.bulkStr(k)
			w.bulkStr(v)
		}
	}
	str("summary", d.Summary)
	str("since", d.Since)
	w.bulkStr("group")
	w.bulkStr(d.Group)
	str("complexity", d.Complexity)
	if len(d.DocFlags) > 0 {
		w.bulkStr("doc_flags")
		w.statusSet(d.DocFlags)
	}
	str("deprecated_since", d.DeprecatedSince)
	str("replaced_by", d.ReplacedBy)
	if len(d.History) > 0 {
		w.bulkStr("history")
		w.setLen(len(d.History))
		for _, h := range d.History {
			w.arrayLen(2)
			w.bulkStr(h[0])
			w.bulkStr(h[1])
		}
	}
	if len(d.Args) > 0 {
		w.bulkStr("arguments")
		w.docArgs(d.Args)
	}
	if len(c.Subcommands) > 0 {
		w.bulkStr("subcommands")
		w.mapLen(len(c.Subcommands))
		for _, s := range c.Subcommands {
			w.bulkStr(s.Name)
			w.commandDocs(s)
		}
	}
}

func (w *writer) docArgs(args []Arg) {
	w.arrayLen(len(args))
	for i := range args {
		a := &args[i]
		n := 2
		for _, present := range []bool{a.Type == "key", a.Token != "", a.Summary != "", a.Since != "",
			a.DeprecatedSince != "", len(a.Flags) > 0, a.Type == "oneof" || a.Type == "block"} {
			if present {
				n++
			}
		}
		w.mapLen(n)
		w.bulkStr("name")
		w.bulkStr(a.Name)
		w.bulkStr("type")
		w.bulkStr(a.Type)
		if a.Type == "key" {
			w.bulkStr("key_spec_index")
			w.int(int64(a.KeySpecIndex))
		}
		for _, kv := range [][2]string{{"token", a.Token}, {"summary", a.Summary}, {"since", a.Since}, {"deprecated_since", a.DeprecatedSince}} {
			if kv[1] != "" {
				w.bulkStr(kv[0])
				w.bulkStr(kv[1])
			}
		}
		if len(a.Flags) > 0 {
			w.bulkStr("flags")
			w.statusSet(a.Flags)
		}
		if a.Type == "oneof" || a.Type == "block" {
			w.bulkStr("arguments")
			w.docArgs(a.Args)
		}
	}
}
