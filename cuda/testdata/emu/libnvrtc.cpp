// libnvrtc.cpp: an NVRTC for the cuda package's tests. "Compiling" a
// program writes it out with prelude.h and an entry point per kernel, builds
// a shared object with g++, and returns "EMU:<path>" as the CUBIN, which the
// emulated driver (libcuda.cpp) loads.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <dlfcn.h>
#include <sys/stat.h>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#ifndef EMU_PRELUDE_DIR
#error "build with -DEMU_PRELUDE_DIR=\"...\""
#endif

struct Prog {
	std::string src, name, log, image;
};

// workdir is a folder beside this library (so removing the emulator's
// folder removes the compiled modules too), or a new temporary folder.
static std::string workdir() {
	static std::string dir;
	Dl_info info;
	if (dir.empty() && dladdr((void*)&workdir, &info) && info.dli_fname) {
		std::string lib = info.dli_fname;
		size_t slash = lib.rfind('/');
		if (slash != std::string::npos) {
			std::string d = lib.substr(0, slash) + "/work-" + std::to_string(getpid());
			if (mkdir(d.c_str(), 0755) == 0 || errno == EEXIST) dir = d;
		}
	}
	if (dir.empty()) {
		const char* t = getenv("TMPDIR");
		std::string tmpl = std::string(t && *t ? t : "/tmp") + "/deepgo-emu-XXXXXX";
		char* d = mkdtemp(&tmpl[0]);
		dir = d ? d : "/tmp";
	}
	return dir;
}

extern "C" {

// A version no real NVRTC has, so that the emulator's "CUBIN"s, which name
// files on this machine, never share a kernel-cache key with real ones.
int nvrtcVersion(int* major, int* minor) {
	*major = 99;
	*minor = 0;
	return 0;
}
static const int archs[] = {75, 80, 86, 89, 90};
int nvrtcGetNumSupportedArchs(int* n) {
	*n = sizeof(archs) / sizeof(archs[0]);
	return 0;
}
int nvrtcGetSupportedArchs(int* a) {
	memcpy(a, archs, sizeof(archs));
	return 0;
}
const char* nvrtcGetErrorString(int r) {
	switch (r) {
	case 0: return "NVRTC_SUCCESS";
	case 6: return "NVRTC_ERROR_COMPILATION";
	case 3: return "NVRTC_ERROR_INVALID_INPUT";
	}
	return "NVRTC_ERROR_UNKNOWN";
}
int nvrtcCreateProgram(Prog** p, const char* src, const char* name, int nh, const char* const* h, const char* const* inc) {
	if (!src || nh != 0) return 3;
	*p = new Prog{src, name ? name : "prog", "", ""};
	return 0;
}
int nvrtcDestroyProgram(Prog** p) {
	delete *p;
	*p = 0;
	return 0;
}
int nvrtcCompileProgram(Prog* p, int nopt, const char* const* opts) {
	bool arch = false;
	for (int i = 0; i < nopt; i++)
		if (strncmp(opts[i], "--gpu-architecture=", 19) == 0) arch = true;
	if (!arch) {
		p->log = "emulated nvrtc: no --gpu-architecture option";
		return 3;
	}
	static int seq;
	std::string base = workdir() + "/" + p->name + "." + std::to_string(getpid()) + "." + std::to_string(++seq);
	std::string src = "#include \"prelude.h\"\n" + p->src + "\n";
	const char* key = "extern \"C\" __global__ void ";
	for (size_t at = p->src.find(key); at != std::string::npos; at = p->src.find(key, at + 1)) {
		size_t s = at + strlen(key), e = s;
		while (e < p->src.size() && (isalnum((unsigned char)p->src[e]) || p->src[e] == '_')) e++;
		src += "EMU_KERNEL(" + p->src.substr(s, e - s) + ")\n";
	}
	FILE* f = fopen((base + ".cpp").c_str(), "w");
	if (!f) return 3;
	fwrite(src.data(), 1, src.size(), f);
	fclose(f);
	std::string cmd = "g++ -std=c++17 -O1 -w -shared -fPIC -I'" EMU_PRELUDE_DIR "' -o '" + base + ".so' '" + base +
		".cpp' > '" + base + ".log' 2>&1";
	int rc = system(cmd.c_str());
	FILE* lf = fopen((base + ".log").c_str(), "r");
	if (lf) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, lf)) > 0) p->log.append(buf, n);
		fclose(lf);
	}
	if (rc != 0) return 6;
	p->image = "EMU:" + base + ".so";
	return 0;
}
int nvrtcGetProgramLogSize(Prog* p, size_t* n) {
	*n = p->log.size() + 1;
	return 0;
}
int nvrtcGetProgramLog(Prog* p, char* out) {
	memcpy(out, p->log.c_str(), p->log.size() + 1);
	return 0;
}
int nvrtcGetCUBINSize(Prog* p, size_t* n) {
	*n = p->image.size() + 1;
	return p->image.empty() ? 3 : 0;
}
int nvrtcGetCUBIN(Prog* p, char* out) {
	memcpy(out, p->image.c_str(), p->image.size() + 1);
	return 0;
}
int nvrtcGetPTXSize(Prog* p, size_t* n) { return nvrtcGetCUBINSize(p, n); }
int nvrtcGetPTX(Prog* p, char* out) { return nvrtcGetCUBIN(p, out); }

}  // extern "C"
