package fsm

// Code names a Redis error. The FSM returns codes, never texts: every text
// lives in one const block in resp/errors.go, which maps each Code to the
// exact string redis-server 7.0 sends. Codes are not persisted (replies are
// not part of the log), but keep them append-only anyway so that logs and
// tests that print numbers stay readable.
type Code uint16

const (
	CodeNone Code = iota
	CodeRaw       // Str is the whole error text
	CodeSyntax
	CodeWrongType
	CodeNotInt
	CodeNotFloat
	CodeOverflow      // increment or decrement would overflow
	CodeNaNInf        // increment would produce NaN or Infinity
	CodeInvalidExpire // Str: command name
	CodeNoSuchKey
	CodeOutOfRange      // index out of range
	CodeOffsetRange     // offset is out of range
	CodeStringTooLong   // string exceeds maximum allowed size (proto-max-bulk-len)
	CodeWrongArgs       // Str: command name
	CodeUnknownCommand  // Str: preformatted "'name', with args beginning with: ..."
	CodeExpireOptsNXXX  // NX and XX, GT or LT options at the same time are not compatible
	CodeExpireOptsGTLT  // GT and LT options at the same time are not compatible
	CodeUnsupportedOpt  // Str: option name (e.g. "Unsupported option TYPE")
	CodeMoved           // Int: slot, Str: host:port
	CodeAsk             // Int: slot, Str: host:port
	CodeTryAgain        // multi-key request during resharding
	CodeClusterDown     // The cluster is down
	CodeClusterDownRO   // The cluster is down and only accepts read commands
	CodeSlotNotServed   // Hash slot not served
	CodeCrossSlot       // Keys in request don't hash to the same slot
	CodeNoAuth          // Authentication required.
	CodeWrongPass       // WRONGPASS invalid username-password pair or user is disabled.
	CodeSelectCluster   // SELECT is not allowed in cluster mode
	CodeNotPositive     // value is out of range, must be positive
	CodeTimeout         // Str: what timed out; write outcome unknown
	CodeLCSOpts         // If you want both the length and indexes, please just use IDX.
	CodeInvalidDB       // DB index is out of range
	CodeBusyKey         // Target key name already exists.
	CodeSameObject      // source and destination objects are the same (pre 6.2 wording kept by code)
	CodeMinusOneTooLow  // Str: free-form argument name for "ERR <x> is negative" style errors
	CodeLoading         // LOADING Redis is loading the dataset in memory
	CodeReadOnlyReplica // READONLY You can't write against a read only replica.
	CodeUnknownSubcmd   // Str: preformatted "'sub'. Try CMD HELP."
	CodeCopyCluster     // ERR Copying to another database is not allowed in cluster mode
	CodeIntRange        // ERR value is out of range, value must between -2147483648 and 2147483647
	CodeLFUNotSelected  // ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.
	CodeInvalidCursor   // ERR invalid cursor
	CodeDecrOverflow    // ERR decrement would overflow
	CodeLCSNotString    // ERR The specified keys must contain string values
	CodeLCSMemory       // ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len
	CodeLPosRankZero    // ERR RANK can't be zero: use 1 to start from the first match, ...
	CodeLPosCountNeg    // ERR COUNT can't be negative
	CodeLPosMaxLenNeg   // ERR MAXLEN can't be negative
	CodeNumKeysZero     // ERR numkeys should be greater than 0
	CodeCountZero       // ERR count should be greater than 0
	CodeFailoverMaster  // ERR You should send CLUSTER FAILOVER to a replica
	CodeUnknownSubArity // Str: "container|sub" with sub as typed, e.g. "cluster|FAILOVER": unknown subcommand or wrong number of arguments
)
