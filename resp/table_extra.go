package resp

// extraCommands are commands redis-server 7.0 does not have, written by
// hand in the shape later Redis versions report.
var extraCommands = []*Command{
	// CLIENT SETINFO is Redis 7.2's; client libraries send it on connect.
	{Name: "client|setinfo", Arity: 4, Route: RouteLocal,
		Flags: words("noscript loading stale"),
		ACL:   words("@slow @connection"),
		Doc: Doc{Summary: "Sets information specific to the client or connection.", Since: "7.2.0", Group: "connection", Complexity: "O(1)",
			Args: []Arg{{Name: "attr", Type: "oneof", Args: []Arg{
				{Name: "libname", Type: "string", Token: "LIB-NAME"},
				{Name: "libver", Type: "string", Token: "LIB-VER"},
			}}},
		},
	},
}
