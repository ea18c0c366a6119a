package logread

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The explanations are our own wording: none may copy a phrase of the guide
// that the seed log comes from (/work/shared/seed/000_3102bdb48be713b8.txt).
// A phrase is any run of minPhrase characters of one of the guide's prose
// lines that contains a Chinese character, compared after removing spaces and
// folding full-width punctuation (so "表示 cleanSession=false,不清除 session"
// still counts as a copy of the guide's "表示cleanSession=false,不清除session").

const minPhrase = 6

// guideFile is the guide, when the checkout has the shared seed directory
// next to it (not in CI).
var guideFile = filepath.Join("..", "..", "..", "shared", "seed", "000_3102bdb48be713b8.txt")

// guideProse is part of the guide's prose, so that the check runs everywhere.
var guideProse = []string{
	"第一行:服务器收到一个新的连接请求",
	"1403334375: 表示连接的时间点",
	"121.201.8.163: 客户端的IP地址",
	"1883: 连接的服务器端口号",
	"第二行:服务器为客户端建立连接",
	"zhoujing (c0, k60, ujoyo): 客户端连接指定的ClientID为'zhoujing'",
	"c0: 表示cleanSession=false,不清除session",
	"k60: 表示keep-alive=60s",
	"ujoyo: 表示使用的服务器账号为joyo",
	"第三行:发送连接ACK包给客户端",
	"第一行:服务器收到一个来自ClientID为zhoujing的订阅请求",
	"第二行:服务器识别zhoujing订阅的主题为 jiji/chat/9,指定的QOS=2(有且只发送一次)",
	"第三行:给ClientID=zhoujing客户端发送订阅ACK回包",
	"第一行:服务器正在发送一个消息给ClientID=zhoujing的客户端,消息体大小为396 bytes,消息主题为‘jiji/chat/9’",
	"d: 表示mqtt报头的DUP字段",
	"q: 表示的QOS字段",
	"r: 表示的是RETAIN",
	"m: 表示的是消息ID,即mid",
	"第二行:发布收稿阶段,有保证的交付第一部分",
	"第三行:出版发行阶段,有保证的交付第二部分",
	"第四行:发布完成,有保证的交付第三部分,至此一个内容发部过程完成",
	"客户端主动断开连接的只有一行日志,很简单。如下所示:",
	"第一行:接收来自ClientID=JY_API_PUSH_CLIENT的发布请求,发布的消息主题为'jiji/chat/9',消息大小为396 bytes",
	"第二行:服务器发送PUBREC给客户端,此过程与发送消息给客户端正好对称,只不过是Received和Sending的对象反过来而已",
	"第三行:服务器接收到客户端已经释放的命令,内容交付第二步完成",
	"第四行:通知客户端,接收完成,至此一个消息发布完成,内容交付第三步完成",
	"同一个ClientID重复连接时",
	"客户端连接超时,服务器主动清除连接信息",
	"客户端socket异常时的日志",
}

// fold removes white space and maps full-width punctuation to ASCII.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == '‘' || r == '’':
			r = '\''
		case r == '“' || r == '”':
			r = '"'
		case r == '。':
			r = '.'
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func hasHan(rs []rune) bool {
	for _, r := range rs {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// copiedPhrases returns the phrases of prose that occur in text.
func copiedPhrases(prose []string, text string) []string {
	text = fold(text)
	seen := map[string]bool{}
	var out []string
	for _, line := range prose {
		rs := []rune(fold(line))
		for i := 0; i+minPhrase <= len(rs); i++ {
			w := rs[i : i+minPhrase]
			if !hasHan(w) || !strings.Contains(text, string(w)) {
				continue
			}
			// Grow the match to its full length for the report.
			j := i + minPhrase
			for j < len(rs) && strings.Contains(text, string(rs[i:j+1])) {
				j++
			}
			if p := string(rs[i:j]); !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			i = j - 1 // not its suffixes again
		}
	}
	return out
}

// explanationTexts is every string literal of the files that hold the
// explanations, one per line.
func explanationTexts(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	fset := token.NewFileSet()
	for _, name := range []string{"explain.go", "explain_text.go", "summary.go", "parse.go"} {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					b.WriteString(s)
					b.WriteByte('\n')
				}
			}
			return true
		})
	}
	return b.String()
}

// guideProseLines reads the guide's prose: the lines with Chinese text
// between its first heading and the reprint notice.
func guideProseLines(data string) []string {
	if i := strings.Index(data, "客户端连接日志"); i >= 0 {
		data = data[i:]
	}
	if i := strings.Index(data, "转载地址"); i >= 0 {
		data = data[:i]
	}
	var out []string
	for _, l := range strings.Split(data, "\n") {
		if hasHan([]rune(l)) {
			out = append(out, strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "•")))
		}
	}
	return out
}

func checkNoCopies(t *testing.T, prose []string) {
	t.Helper()
	if len(prose) < 10 {
		t.Fatalf("only %d prose lines", len(prose))
	}
	for _, p := range copiedPhrases(prose, explanationTexts(t)) {
		t.Errorf("explanation text copies the guide's phrase %q", p)
	}
}

func TestWordingOwnEmbedded(t *testing.T) {
	checkNoCopies(t, guideProse)
}

func TestWordingOwnGuide(t *testing.T) {
	data, err := os.ReadFile(guideFile)
	if err != nil {
		t.Skipf("guide not available: %v", err)
	}
	checkNoCopies(t, guideProseLines(string(data)))
}

// The check itself: it finds a copy that differs only in spaces and
// full-width punctuation, and passes our own wording.
func TestCopiedPhrases(t *testing.T) {
	prose := []string{"c0: 表示cleanSession=false,不清除session", "121.201.8.163: 客户端的IP地址"}
	if got := copiedPhrases(prose, "x 表示 cleanSession=false,不清除 session"); len(got) != 1 || got[0] != "表示cleansession=false,不清除session" {
		t.Errorf("copy not found: %q", got)
	}
	if got := copiedPhrases(prose, "客户端的 IP 地址"); len(got) != 1 {
		t.Errorf("copy with spaces not found: %q", got)
	}
	if got := copiedPhrases(prose, "会话标志 c=0:断开后保留会话;对端 IP"); len(got) != 0 {
		t.Errorf("false positive: %q", got)
	}
}
