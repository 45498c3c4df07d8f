package resp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/troika-db/troika/fsm"
)

// Every error text Troika sends, exactly as redis-server 7.0 words it.
// The FSM and the node return fsm.Code values; this block is the only
// place where they become text. Texts with a %s or %d are completed by
// the reply's Str or Int (see errorText).
const (
	msgInternal       = "ERR internal error"
	msgSyntax         = "ERR syntax error"
	msgWrongType      = "WRONGTYPE Operation against a key holding the wrong kind of value"
	msgNotInt         = "ERR value is not an integer or out of range"
	msgNotFloat       = "ERR value is not a valid float"
	msgOverflow       = "ERR increment or decrement would overflow"
	msgNaNInf         = "ERR increment would produce NaN or Infinity"
	msgInvalidExpire  = "ERR invalid expire time in '%s' command"
	msgNoSuchKey      = "ERR no such key"
	msgOutOfRange     = "ERR index out of range"
	msgOffsetRange    = "ERR offset is out of range"
	msgStringTooLong  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	msgWrongArgs      = "ERR wrong number of arguments for '%s' command"
	msgUnknownCommand = "ERR unknown command %s"
	msgExpireNXXX     = "ERR NX and XX, GT or LT options at the same time are not compatible"
	msgExpireGTLT     = "ERR GT and LT options at the same time are not compatible"
	msgUnsupportedOpt = "ERR Unsupported option %s"
	msgMoved          = "MOVED %d %s"
	msgAsk            = "ASK %d %s"
	msgTryAgain       = "TRYAGAIN Multiple keys request during rehashing of slot"
	msgClusterDown    = "CLUSTERDOWN The cluster is down"
	msgClusterDownRO  = "CLUSTERDOWN The cluster is down and only accepts read commands"
	msgSlotNotServed  = "CLUSTERDOWN Hash slot not served"
	msgCrossSlot      = "CROSSSLOT Keys in request don't hash to the same slot"
	// Transactions (cmd_txn.go).
	msgMultiNested         = "ERR MULTI calls can not be nested"
	msgExecWithoutMulti    = "ERR EXEC without MULTI"
	msgDiscardWithoutMulti = "ERR DISCARD without MULTI"
	msgExecAbort           = "EXECABORT Transaction discarded because of previous errors."
	msgWatchInMulti        = "ERR WATCH inside MULTI is not allowed"
	msgNoAuth              = "NOAUTH Authentication required."
	msgWrongPass           = "WRONGPASS invalid username-password pair or user is disabled."
	msgSelectCluster       = "ERR SELECT is not allowed in cluster mode"
	msgNotPositive         = "ERR value is out of range, must be positive"
	msgTimeout             = "TIMEOUT the outcome of the command is unknown: %s" // Str: the cause
	msgLCSOpts             = "ERR If you want both the length and indexes, please just use IDX."
	msgInvalidDB           = "ERR DB index is out of range"
	msgBusyKey             = "BUSYKEY Target key name already exists."
	msgSameObject          = "ERR source and destination objects are the same"
	msgIsNegative          = "ERR %s is negative"
	msgLoading             = "LOADING Redis is loading the dataset in memory"
	msgReadOnly            = "READONLY You can't write against a read only replica."
	msgUnknownSubcmd       = "ERR unknown subcommand %s" // Str: "'sub'. Try CMD HELP."
	msgCopyCluster         = "ERR Copying to another database is not allowed in cluster mode"
	msgIntRange            = "ERR value is out of range, value must between -2147483648 and 2147483647"
	msgLFUNotSelected      = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
	msgInvalidCursor       = "ERR invalid cursor"
	msgDecrOverflow        = "ERR decrement would overflow"
	msgLCSNotString        = "ERR The specified keys must contain string values"
	msgLCSMemory           = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
	msgLPosRankZero        = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	msgLPosCountNeg        = "ERR COUNT can't be negative"
	msgLPosMaxLenNeg       = "ERR MAXLEN can't be negative"
	msgNumKeysZero         = "ERR numkeys should be greater than 0"
	msgCountZero           = "ERR count should be greater than 0"
	msgFailoverMaster      = "ERR You should send CLUSTER FAILOVER to a replica"

	// Texts used only by resp.
	msgUnknownSubArity  = "ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
	msgUnknownSub       = "ERR unknown subcommand '%s'. Try %s HELP."
	msgSetInfoOption    = "ERR Unrecognized option '%s'"
	msgSetInfoValue     = "ERR %s cannot contain spaces, newlines or special characters."
	msgKillClientID     = "ERR client-id should be greater than 0"
	msgNoSuchUser       = "ERR No such user '%s'"
	msgConfigUnknown    = "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
	msgConfigSetFailed  = "ERR %s" // the Settings' error text, verbatim
	msgRewriteFailed    = "ERR Rewriting config file: %s"
	msgMaxClients       = "ERR max number of clients + cluster connections reached"
	msgAuthNoPass       = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	msgHelloNoAuth      = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	msgHelloSyntax      = "ERR Syntax error in HELLO option '%s'"
	msgNoProto          = "NOPROTO unsupported protocol version"
	msgProtoNotInt      = "ERR Protocol version is not an integer or out of range"
	msgBadClientName    = "ERR Client names cannot contain spaces, newlines or special characters."
	msgUnknownClientTyp = "ERR Unknown client type '%s'"
	msgInvalidClientID  = "ERR Invalid client ID"
	msgNoSuchClient     = "ERR No such client"
	msgInvalidCommand   = "ERR Invalid command specified"
	msgNoKeyArgs        = "ERR The command has no key arguments"
	msgGetKeysArity     = "ERR Invalid number of arguments specified for command"
	msgGetKeysInvalid   = "ERR Invalid arguments specified for command"
	msgSlowlogCount     = "ERR count should be greater than or equal to -1"
	msgNoConfigFile     = "ERR The server is running without a config file"
	msgConfigSetOdd     = msgSyntax
	msgConfigDup        = "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter"
	msgPubSubContext    = "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"

	// Protocol errors: sent, then the connection is closed.
	msgProtoBulkLen        = "ERR Protocol error: invalid bulk length"
	msgProtoMultibulkLen   = "ERR Protocol error: invalid multibulk length"
	msgProtoUnauthMBulk    = "ERR Protocol error: unauthenticated multibulk length"
	msgProtoUnauthBulk     = "ERR Protocol error: unauthenticated bulk length"
	msgProtoExpectedDollar = "ERR Protocol error: expected '$', got '%c'"
	msgProtoBigInline      = "ERR Protocol error: too big inline request"
	msgProtoBigMBulkCount  = "ERR Protocol error: too big mbulk count string"
	msgProtoBigBulkCount   = "ERR Protocol error: too big bulk count string"
	msgProtoQuotes         = "ERR Protocol error: unbalanced quotes in request"
)

// codeText maps the codes whose text has no argument.
var codeText = map[fsm.Code]string{
	fsm.CodeSyntax:          msgSyntax,
	fsm.CodeWrongType:       msgWrongType,
	fsm.CodeNotInt:          msgNotInt,
	fsm.CodeNotFloat:        msgNotFloat,
	fsm.CodeOverflow:        msgOverflow,
	fsm.CodeNaNInf:          msgNaNInf,
	fsm.CodeNoSuchKey:       msgNoSuchKey,
	fsm.CodeOutOfRange:      msgOutOfRange,
	fsm.CodeOffsetRange:     msgOffsetRange,
	fsm.CodeStringTooLong:   msgStringTooLong,
	fsm.CodeExpireOptsNXXX:  msgExpireNXXX,
	fsm.CodeExpireOptsGTLT:  msgExpireGTLT,
	fsm.CodeTryAgain:        msgTryAgain,
	fsm.CodeClusterDown:     msgClusterDown,
	fsm.CodeClusterDownRO:   msgClusterDownRO,
	fsm.CodeSlotNotServed:   msgSlotNotServed,
	fsm.CodeCrossSlot:       msgCrossSlot,
	fsm.CodeNoAuth:          msgNoAuth,
	fsm.CodeWrongPass:       msgWrongPass,
	fsm.CodeSelectCluster:   msgSelectCluster,
	fsm.CodeNotPositive:     msgNotPositive,
	fsm.CodeLCSOpts:         msgLCSOpts,
	fsm.CodeInvalidDB:       msgInvalidDB,
	fsm.CodeBusyKey:         msgBusyKey,
	fsm.CodeSameObject:      msgSameObject,
	fsm.CodeLoading:         msgLoading,
	fsm.CodeReadOnlyReplica: msgReadOnly,
	fsm.CodeCopyCluster:     msgCopyCluster,
	fsm.CodeIntRange:        msgIntRange,
	fsm.CodeLFUNotSelected:  msgLFUNotSelected,
	fsm.CodeInvalidCursor:   msgInvalidCursor,
	fsm.CodeDecrOverflow:    msgDecrOverflow,
	fsm.CodeLCSNotString:    msgLCSNotString,
	fsm.CodeLCSMemory:       msgLCSMemory,
	fsm.CodeLPosRankZero:    msgLPosRankZero,
	fsm.CodeLPosCountNeg:    msgLPosCountNeg,
	fsm.CodeLPosMaxLenNeg:   msgLPosMaxLenNeg,
	fsm.CodeNumKeysZero:     msgNumKeysZero,
	fsm.CodeCountZero:       msgCountZero,
	fsm.CodeFailoverMaster:  msgFailoverMaster,
}

// codeFormat maps the codes whose text embeds the reply's Str (or Int).
var codeFormat = map[fsm.Code]string{
	fsm.CodeInvalidExpire:  msgInvalidExpire,
	fsm.CodeWrongArgs:      msgWrongArgs,
	fsm.CodeUnknownCommand: msgUnknownCommand,
	fsm.CodeUnsupportedOpt: msgUnsupportedOpt,
	fsm.CodeTimeout:        msgTimeout,
	fsm.CodeMinusOneTooLow: msgIsNegative,
	fsm.CodeUnknownSubcmd:  msgUnknownSubcmd,
}

// errorText returns the exact text (without the leading '-') of an error
// reply. It never returns text containing CR or LF.
func errorText(r fsm.Reply) string {
	var s string
	switch r.Code {
	case fsm.CodeRaw:
		s = r.Str
		if s == "" {
			s = "ERR"
		}
	case fsm.CodeMoved:
		s = fmt.Sprintf(msgMoved, r.Int, r.Str)
	case fsm.CodeAsk:
		s = fmt.Sprintf(msgAsk, r.Int, r.Str)
	case fsm.CodeInvalidExpire, fsm.CodeWrongArgs:
		s = fmt.Sprintf(codeFormat[r.Code], strings.ToLower(r.Str))
	case fsm.CodeUnknownSubArity:
		container, sub, _ := strings.Cut(r.Str, "|") // sub as the client typed it
		s = fmt.Sprintf(msgUnknownSubArity, truncate([]byte(sub), 128), strings.ToUpper(container))
	case fsm.CodeUnknownCommand:
		if strings.HasPrefix(r.Str, "'") {
			s = fmt.Sprintf(msgUnknownCommand, r.Str)
		} else { // a bare command name
			s = unknownCommandText([][]byte{[]byte(r.Str)})
		}
	default:
		if t, ok := codeText[r.Code]; ok {
			s = t
		} else if f, ok := codeFormat[r.Code]; ok {
			s = fmt.Sprintf(f, r.Str)
		} else if r.Str != "" {
			s = "ERR " + r.Str
		} else {
			s = msgInternal + " (error code " + strconv.Itoa(int(r.Code)) + ")"
		}
	}
	return sanitizeError(s)
}

// sanitizeError replaces CR and LF, which would break the protocol, with
// spaces, as Redis's addReplyErrorLength does.
func sanitizeError(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

// errPrefix is the errorstats key of an error text: its first word
// ("ERR", "WRONGTYPE", "MOVED"...).
func errPrefix(text string) string {
	if i := strings.IndexByte(text, ' '); i >= 0 {
		return text[:i]
	}
	return text
}

// isRejection reports whether a backend error means the command was not
// executed (routing, cluster state): Redis counts those as rejected_calls
// rather than failed_calls.
func isRejection(c fsm.Code) bool {
	switch c {
	case fsm.CodeMoved, fsm.CodeAsk, fsm.CodeTryAgain, fsm.CodeClusterDown, fsm.CodeClusterDownRO,
		fsm.CodeSlotNotServed, fsm.CodeCrossSlot, fsm.CodeLoading, fsm.CodeReadOnlyReplica, fsm.CodeNoAuth:
		return true
	}
	return false
}

// unknownCommandText formats Redis 7.0's unknown-command error: the name
// as typed (up to 128 bytes) and quoted arguments until the list reaches
// 128 bytes, each cut so that the list stays within 128 bytes.
func unknownCommandText(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		a = untilNUL(a)
		room := 128 - b.Len()
		if len(a) > room {
			a = a[:room]
		}
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
	}
	return sanitizeError(fmt.Sprintf(msgUnknownCommand, "'"+truncate(args[0], 128)+"', with args beginning with: "+b.String()))
}

func unknownSubcommandText(sub []byte, container string) string {
	return sanitizeError(fmt.Sprintf(msgUnknownSub, truncate(sub, 128), strings.ToUpper(container)))
}

func wrongArgsText(fullName string) string {
	return fmt.Sprintf(msgWrongArgs, fullName)
}

// untilNUL cuts b at its first NUL: Redis formats these texts with %s on
// C strings, which stop there.
func untilNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// truncate is Redis's "%.<n>s" of a C string.
func truncate(b []byte, n int) string {
	b = untilNUL(b)
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// ProtocolError is a malformed request. The server replies with Text and
// closes the connection, as Redis does.
type ProtocolError struct {
	Text string // the full error text, e.g. "ERR Protocol error: invalid bulk length"
}

func (e *ProtocolError) Error() string { return "resp: " + e.Text }

// errQueryBufferLimit is returned by the reader when a client's pending
// input exceeds client-query-buffer-limit; the connection is closed
// without a reply, as Redis does.
var errQueryBufferLimit = errors.New("resp: client query buffer limit reached")
