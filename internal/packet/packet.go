// Package packet encodes and decodes MQTT 3.1, 3.1.1 and 5.0 control packets.
//
// Decoding works on whole packets already split off the stream: the caller
// reads the fixed header with ParseFixedHeader, collects Remaining bytes of
// body, then calls DecodeConnect (first packet) or Decode (the rest). Decoded
// strings and byte slices may alias the body buffer for speed; callers copy
// what they keep past the next read (see Clone methods).
//
// Encoding appends to a caller-owned []byte (AppendXxx) so a writer can
// coalesce many packets into one buffer without allocating per packet.
//
// Errors are *Error values carrying the MQTT 5 reason code the spec gives for
// the violation (0x81 malformed packet, 0x82 protocol error, ...), so the
// caller can both pick Mosquitto's log line and, for v5, the DISCONNECT reason.
//
// The package is a leaf: it imports no other midge package.
package packet

// Type is an MQTT control packet type (the high nibble of the first byte).
type Type byte

// Control packet types.
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// String returns the packet type's name as Mosquitto logs it ("PUBACK").
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "UNKNOWN"
}

// Protocol versions (the CONNECT protocol level with the bridge bit cleared).
const (
	V31  byte = 3 // "MQIsdp"
	V311 byte = 4 // "MQTT" level 4
	V5   byte = 5 // "MQTT" level 5
)

// MaxRemaining is the largest remaining length the four-byte varint allows.
const MaxRemaining = 268435455

// ReasonCode is an MQTT 5 reason code. v3 CONNACK return codes (0-5) are
// carried in the same type.
type ReasonCode byte

// MQTT 5 reason codes used by the broker.
const (
	Success                    ReasonCode = 0x00
	GrantedQoS1                ReasonCode = 0x01
	GrantedQoS2                ReasonCode = 0x02
	DisconnectWithWill         ReasonCode = 0x04
	NoMatchingSubscribers      ReasonCode = 0x10
	NoSubscriptionExisted      ReasonCode = 0x11
	UnspecifiedError           ReasonCode = 0x80
	MalformedPacket            ReasonCode = 0x81
	ProtocolError              ReasonCode = 0x82
	ImplementationSpecific     ReasonCode = 0x83
	UnsupportedProtocolVersion ReasonCode = 0x84
	ClientIDNotValid           ReasonCode = 0x85
	BadUsernameOrPassword      ReasonCode = 0x86
	NotAuthorized              ReasonCode = 0x87
	ServerUnavailable          ReasonCode = 0x88
	ServerBusy                 ReasonCode = 0x89
	BadAuthenticationMethod    ReasonCode = 0x8C
	KeepAliveTimeout           ReasonCode = 0x8D
	SessionTakenOver           ReasonCode = 0x8E
	TopicFilterInvalid         ReasonCode = 0x8F
	TopicNameInvalid           ReasonCode = 0x90
	PacketIDInUse              ReasonCode = 0x91
	PacketIDNotFound           ReasonCode = 0x92
	ReceiveMaximumExceeded     ReasonCode = 0x93
	TopicAliasInvalid          ReasonCode = 0x94
	PacketTooLarge             ReasonCode = 0x95
	QuotaExceeded              ReasonCode = 0x97
	AdministrativeAction       ReasonCode = 0x98
	PayloadFormatInvalid       ReasonCode = 0x99
	RetainNotSupported         ReasonCode = 0x9A
	QoSNotSupported            ReasonCode = 0x9B
	SharedSubNotSupported      ReasonCode = 0x9E
	SubIDsNotSupported         ReasonCode = 0xA1
	WildcardSubsNotSupported   ReasonCode = 0xA2
)

// MQTT 3.1/3.1.1 CONNACK return codes.
const (
	ConnAccepted           ReasonCode = 0
	ConnRefusedVersion     ReasonCode = 1
	ConnRefusedIdentifier  ReasonCode = 2
	ConnRefusedUnavailable ReasonCode = 3
	ConnRefusedBadAuth     ReasonCode = 4
	ConnRefusedNotAuth     ReasonCode = 5
)

// ErrorKind distinguishes the CONNECT failures for which Mosquitto prints a
// dedicated log line (or sends a dedicated CONNACK) from generic ones.
type ErrorKind int

const (
	KindGeneric ErrorKind = iota
	// KindProtocolName: the protocol name is neither "MQTT" nor "MQIsdp".
	// Error.Name holds it. Mosquitto logs `Invalid protocol "%s"` only when
	// the name's length is 4 or 6; otherwise it closes silently.
	KindProtocolName
	// KindProtocolVersion: known name with an unknown level. Error.Level holds
	// the raw level byte; the broker answers with CONNACK 1 (v3 form).
	KindProtocolVersion
	// KindWillQoS: will QoS 3.
	KindWillQoS
	// KindPasswordWithoutUsername: v3.x password flag without username flag.
	// Connect.ClientID holds the already-parsed client id.
	KindPasswordWithoutUsername
	// KindPublishQoS: PUBLISH with QoS 3 ("Invalid QoS in PUBLISH from %s").
	KindPublishQoS
	// KindPublishDupQoS0: PUBLISH with DUP=1 and QoS 0 (v3.1.1 and v5).
	KindPublishDupQoS0
	// KindDuplicateProperty: a v5 property repeated where it may appear only
	// once (ProtocolError). Mosquitto logs `Bad socket read/write on client
	// %s: Duplicate property in property list`. Error.Property holds its id.
	KindDuplicateProperty
	// KindUnknownProperty: an unknown v5 property identifier
	// (MalformedPacket). Mosquitto logs DEBUG `Unsupported property type: %d`
	// with Error.Property.
	KindUnknownProperty
)

// Error is a decoding failure.
type Error struct {
	Code  ReasonCode // MalformedPacket or ProtocolError (or another v5 code)
	Kind  ErrorKind
	Msg   string // short description for debugging, not a Mosquitto log line
	Name  string // KindProtocolName: the name received
	Level byte   // KindProtocolVersion: the raw protocol level byte
	// Property is the v5 property identifier for KindDuplicateProperty and
	// KindUnknownProperty.
	Property byte
}

func (e *Error) Error() string { return "packet: " + e.Msg }

// UserProperty is one MQTT 5 user property (a key/value pair; order matters
// and keys may repeat).
type UserProperty struct {
	Key, Value string
}

// Properties holds MQTT 5 properties. A numeric property is present when its
// Has* flag is set; a string or binary property when it is non-empty or its
// Has* flag is set (empty strings are legal values).
type Properties struct {
	PayloadFormat           byte // 0x01
	HasPayloadFormat        bool
	MessageExpiry           uint32 // 0x02
	HasMessageExpiry        bool
	ContentType             string // 0x03
	HasContentType          bool
	ResponseTopic           string // 0x08
	HasResponseTopic        bool
	CorrelationData         []byte // 0x09
	HasCorrelation          bool
	SubscriptionIDs         []uint32 // 0x0B (one in SUBSCRIBE, possibly several in an outbound PUBLISH)
	SessionExpiry           uint32   // 0x11
	HasSessionExpiry        bool
	AssignedClientID        string // 0x12
	ServerKeepAlive         uint16 // 0x13
	HasServerKeepAlive      bool
	AuthMethod              string // 0x15
	HasAuthMethod           bool
	AuthData                []byte // 0x16
	HasAuthData             bool
	RequestProblemInfo      byte // 0x17
	HasRequestProblemInfo   bool
	WillDelay               uint32 // 0x18
	HasWillDelay            bool
	RequestResponseInfo     byte // 0x19
	HasRequestResponseInfo  bool
	ResponseInfo            string // 0x1A
	ServerReference         string // 0x1C
	ReasonString            string // 0x1F
	ReceiveMaximum          uint16 // 0x21
	HasReceiveMaximum       bool
	TopicAliasMaximum       uint16 // 0x22
	HasTopicAliasMaximum    bool
	TopicAlias              uint16 // 0x23
	HasTopicAlias           bool
	MaximumQoS              byte // 0x24
	HasMaximumQoS           bool
	RetainAvailable         byte // 0x25
	HasRetainAvailable      bool
	User                    []UserProperty // 0x26
	MaximumPacketSize       uint32         // 0x27
	HasMaximumPacketSize    bool
	WildcardSubAvailable    byte // 0x28
	HasWildcardSubAvailable bool
	SubIDAvailable          byte // 0x29
	HasSubIDAvailable       bool
	SharedSubAvailable      byte // 0x2A
	HasSharedSubAvailable   bool
}

// Connect is a decoded CONNECT packet.
type Connect struct {
	ProtocolName  string
	ProtocolLevel byte // raw byte as sent, bridge bit 0x80 included
	Version       byte // ProtocolLevel &^ 0x80: V31, V311 or V5
	Bridge        bool // bit 0x80 set (v3.x "try_private" bridges)
	CleanStart    bool
	KeepAlive     uint16
	Props         Properties
	ClientID      string

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties
	WillTopic   string
	WillPayload []byte

	UsernameFlag bool
	Username     string
	PasswordFlag bool
	Password     []byte
}

// Connack is a CONNACK packet.
type Connack struct {
	SessionPresent bool
	Code           ReasonCode
	Props          Properties // v5 only
}

// Publish is a PUBLISH packet.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    string
	PacketID uint16 // 0 for QoS 0
	Props    Properties
	Payload  []byte
}

// Ack is PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK-less acks: a packet
// identifier plus, in v5, an optional reason code and properties.
type Ack struct {
	Type     Type // PUBACK, PUBREC, PUBREL or PUBCOMP
	PacketID uint16
	Code     ReasonCode
	Props    Properties
}

// SubOptions are the options byte of one SUBSCRIBE entry.
type SubOptions struct {
	QoS               byte // as requested; 3 is reported, not rejected, by Decode (Mosquitto logs it)
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
}

// Subscription is one entry of a SUBSCRIBE packet.
type Subscription struct {
	Filter  string // raw; not validated by this package (Mosquitto logs invalid filters itself)
	Options SubOptions
}

// Subscribe is a SUBSCRIBE packet.
type Subscribe struct {
	PacketID      uint16
	Props         Properties
	Subscriptions []Subscription
}

// Suback is a SUBACK packet.
type Suback struct {
	PacketID uint16
	Props    Properties
	Codes    []ReasonCode // granted QoS or failure codes
}

// Unsubscribe is an UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties
	Filters  []string // raw; not validated by this package
}

// Unsuback is an UNSUBACK packet.
type Unsuback struct {
	PacketID uint16
	Props    Properties
	Codes    []ReasonCode // v5 only
}

// Pingreq, Pingresp carry nothing.
type Pingreq struct{}
type Pingresp struct{}

// Disconnect is a DISCONNECT packet.
type Disconnect struct {
	Code  ReasonCode // v5; 0 for v3
	Props Properties
}

// Auth is an MQTT 5 AUTH packet.
type Auth struct {
	Code  ReasonCode
	Props Properties
}
