package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// The API server the chart is applied to: kube-apiserver and etcd built
// from these pinned modules (tools/kube-apiserver and tools/etcd pin them
// in their go.mod and go.sum).
const (
	KubeAPIServerVersion = "v1.34.4"
	EtcdVersion          = "v3.7.3"
)

// kubeAPIServerBinary builds tools/kube-apiserver once into the tool cache:
// k8s.io/kubernetes's cmd/kube-apiserver with the version set as the
// Kubernetes release does (clients parse it). About 10 minutes cold on 2
// cores.
func kubeAPIServerBinary(t testing.TB) (string, error) {
	t.Helper()
	mod := filepath.Join(root(t), "deploy", "test", "tools", "kube-apiserver")
	return ensureTool("kube-apiserver", KubeAPIServerVersion, func(dir string) error {
		minor := strings.Split(KubeAPIServerVersion, ".")[1]
		var ld []string
		for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
			ld = append(ld, "-X", pkg+".gitVersion="+KubeAPIServerVersion, "-X", pkg+".gitMajor=1",
				"-X", pkg+".gitMinor="+minor, "-X", pkg+".gitTreeState=clean")
		}
		return goBuild(mod, filepath.Join(dir, "kube-apiserver"), "k8s.io/kubernetes/cmd/kube-apiserver", ld...)
	})
}

// etcdBinary builds tools/etcd (etcd's server main) once into the tool
// cache. About a minute cold.
func etcdBinary(t testing.TB) (string, error) {
	t.Helper()
	mod := filepath.Join(root(t), "deploy", "test", "tools", "etcd")
	return ensureTool("etcd", EtcdVersion, func(dir string) error {
		return goBuild(mod, filepath.Join(dir, "etcd"), ".")
	})
}

// goBuild builds pkg in the module at mod into out, static and stripped,
// with extra linker flags.
func goBuild(mod, out, pkg string, ldflags ...string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", strings.Join(append([]string{"-s", "-w"}, ldflags...), " "), "-o", out, pkg)
	cmd.Dir = mod
	cmd.Env = append(workspaceEnv(), "GOWORK=off", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// Kube is a running etcd and kube-apiserver, and clients for them.
type Kube struct {
	Config   *rest.Config
	Dynamic  dynamic.Interface
	Mapper   *restmapper.DeferredDiscoveryRESTMapper
	Version  string // the server's gitVersion
	Warnings *Warnings
	dir      string
}

// Warnings records the warnings the API server sends back (a Warning
// header), so that an apply can fail on them.
type Warnings struct {
	mu   sync.Mutex
	text []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *Warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text = append(w.text, text)
}

// Take returns the warnings recorded since the last call.
func (w *Warnings) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.text
	w.text = nil
	return out
}

// startKube builds (once) and starts etcd and kube-apiserver on free
// loopback ports, with a self-signed serving certificate and a static admin
// token; they stop when the test ends. It skips the test, saying why, when
// the binaries cannot be built (SPORTELLO_REQUIRE_KUBE=1 makes that a
// failure).
func startKube(t *testing.T) *Kube {
	t.Helper()
	var bins [2]string
	for i, build := range []func(testing.TB) (string, error){etcdBinary, kubeAPIServerBinary} {
		p, err := build(t)
		if err != nil {
			if os.Getenv("SPORTELLO_REQUIRE_KUBE") != "" {
				t.Fatal(err)
			}
			t.Skipf("no API server to apply the chart to: %v", err)
		}
		bins[i] = p
	}
	dir := t.TempDir()
	k := &Kube{dir: dir, Warnings: &Warnings{}}

	start := time.Now()
	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	k.run(t, "etcd", bins[0],
		"--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn")
	k.waitFor(t, "etcd", func() error {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	etcdUp := time.Since(start)

	certPEM, keyPEM := selfSigned(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certFile, keyFile := write("serving.crt", certPEM), write("serving.key", keyPEM)
	_, saKey := selfSigned(t)
	saKeyFile := write("service-account.key", saKey)
	token := randomToken(t)
	tokens := write("tokens.csv", []byte(token+",admin,admin,system:masters\n"))
	port := freePort(t)
	k.run(t, "kube-apiserver", bins[1],
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(port), "--cert-dir", filepath.Join(dir, "certs"),
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile,
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKeyFile, "--service-account-signing-key-file", saKeyFile,
		"--service-cluster-ip-range", "10.96.0.0/16",
		// Webhooks are called at their Service's endpoints (Knative's run
		// out of cluster), not at a cluster IP nothing routes.
		"--enable-aggregator-routing=true",
		// No endpoint for the kubernetes Service: it would be loopback.
		"--endpoint-reconciler-type=none",
		"--profiling=false", "--v", "0")

	k.Config = &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: certPEM},
		QPS:             200, Burst: 400,
		WarningHandler: k.Warnings,
	}
	disc, err := discovery.NewDiscoveryClientForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	k.waitFor(t, "kube-apiserver", func() error {
		_, err := disc.RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	})
	apiUp := time.Since(start)
	v, err := disc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	k.Version = v.GitVersion
	if k.Dynamic, err = dynamic.NewForConfig(k.Config); err != nil {
		t.Fatal(err)
	}
	k.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	t.Logf("kube-apiserver %s (etcd %s) ready in %s (etcd %s)", k.Version, EtcdVersion,
		apiUp.Round(10*time.Millisecond), etcdUp.Round(10*time.Millisecond))
	return k
}

// run starts a server; its output goes to a log file, shown if the test
// fails. It is stopped (SIGTERM, then SIGKILL) when the test ends.
func (k *Kube) run(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	k.runEnv(t, name, bin, syscall.SIGTERM, nil, args...)
}

// runEnv is run with extra environment, stopped by the signal stop first
// (SIGKILL for a server with nothing to save).
func (k *Kube) runEnv(t *testing.T, name, bin string, stop syscall.Signal, env []string, args ...string) {
	t.Helper()
	logPath := filepath.Join(k.dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(stop)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("%s's log (end):\n%s", name, b)
		}
	})
}

// waitFor polls ready for up to a minute.
func (k *Kube) waitFor(t *testing.T, what string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Resource maps a kind to its resource on the server, and says whether it
// is namespaced.
func (k *Kube) Resource(gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	m, err := k.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		// A kind served since the last discovery (a CRD just established).
		k.Mapper.Reset()
		if m, err = k.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return schema.GroupVersionResource{}, false, err
		}
	}
	return m.Resource, m.Scope.Name() == "namespace", nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// selfSigned returns a self-signed certificate for 127.0.0.1 and
// localhost and its key, PEM-encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "sportello-deploy-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
