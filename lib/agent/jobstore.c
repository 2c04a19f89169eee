/* Durable job records: one folder per job, job.json written atomically, the
 * in-memory index over them, and recovery after a restart. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "model/json.h"
#include "model/parse.h"

int rk_agent_sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return RK_EIO;
    int rc = fsync(dfd) == 0 ? RK_OK : RK_EIO;
    close(dfd);
    return rc;
}

int rk_agent_write_atomic(const char *dir, const char *name, const char *text, size_t len)
{
    return rk_agent_write_atomic_ex(dir, name, text, len, RK_AGENT_WRITE_DURABLE);
}

int rk_agent_write_atomic_ex(const char *dir, const char *name, const char *text, size_t len,
                             rk_agent_write_t level)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int rc = RK_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return RK_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            goto out;
        off += (size_t)k;
    }
    if (level >= RK_AGENT_WRITE_DATA && fdatasync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, dst) != 0)
        goto out;
    if (level < RK_AGENT_WRITE_DURABLE) {
        rc = RK_OK;
        goto out;
    }
    /* The rename is durable only once the folder is synced. */
    rc = rk_agent_sync_dir(dir);
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

int rk_agent_write_new(const char *dir, const char *name, const char *text, size_t len,
                       rk_agent_write_t level)
{
    if (level > RK_AGENT_WRITE_ATOMIC)
        return rk_agent_write_atomic_ex(dir, name, text, len, level);
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    /* No O_TRUNC: the file is new or a spare's empty one, and on ext4 a
     * truncation to size 0 marks the file for a flush at close
     * (auto_da_alloc), which would queue a disk write per record. A longer
     * leftover is cut after the write instead. */
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return RK_EIO;
    int rc = RK_OK;
    size_t off = 0;
    while (off < len && rc == RK_OK) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            rc = RK_EIO;
        else
            off += (size_t)k;
    }
    struct stat st;
    if (rc == RK_OK &&
        (fstat(fd, &st) != 0 || (st.st_size > (off_t)len && ftruncate(fd, (off_t)len) != 0)))
        rc = RK_EIO;
    if (close(fd) != 0)
        rc = RK_EIO;
    if (rc) {
        int e = errno;
        unlink(dst); /* no torn record left behind */
        errno = e;
    }
    return rc;
}

rk_agent_write_t rk_agent_record_level(const rk_agent_t *a, bool sync_dir)
{
    if (a->s->sync != RK_AGENT_SYNC_FULL)
        return RK_AGENT_WRITE_ATOMIC;
    return sync_dir ? RK_AGENT_WRITE_DURABLE : RK_AGENT_WRITE_DATA;
}

int rk_agent_load_id(rk_agent_t *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/agent_id", a->data_dir);
    FILE *f = fopen(path, "re");
    if (f) {
        char buf[RK_AGENT_ID_MAX + 2] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        if (rk_id_valid(buf)) { /* at most 64 characters, so it fits a->id */
            memcpy(a->id, buf, strlen(buf) + 1);
            return RK_OK;
        }
        rk_log_warn("agent id file is invalid; making a new id", "path", path);
    }
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return RK_EIO;
    int k = snprintf(a->id, sizeof a->id, "agent-");
    for (size_t i = 0; i < sizeof rnd; i++)
        k += snprintf(a->id + k, sizeof a->id - (size_t)k, "%02x", rnd[i]);
    char line[RK_AGENT_ID_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", a->id);
    return rk_agent_write_atomic(a->data_dir, "agent_id", line, (size_t)n);
}

/* job.json's text for j as it reads in state st with message (finished_at
 * 0 while unfinished; the request is left out once finished). New string,
 * NULL when out of memory. mu held. */
static char *job_record(const job_t *j, rk_job_state_t st, const char *message,
                        rk_time_t finished_at)
{
    bool done = st > RK_JOB_RUNNING;
    rk_time_t changed = done ? finished_at : j->changed_at;
    char *text = NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "job_id", j->id) || rk_json_set_str(o, "experiment_id", j->experiment_id) ||
        rk_json_set_str(o, "task_type", rk_task_type_name(j->type)) ||
        rk_json_set_str(o, "state", rk_job_state_name(st)) ||
        rk_json_set_str(o, "message", message ? message : "") ||
        rk_json_set_time(o, "accepted_at", j->accepted_at) || rk_json_set_time(o, "changed_at", changed))
        goto out;
    if (j->started_at && rk_json_set_time(o, "started_at", j->started_at))
        goto out;
    if (finished_at && rk_json_set_time(o, "finished_at", finished_at))
        goto out;
    /* The request is kept only while the job may still (re)start. */
    if (!done && j->request && json_object_set(o, "request", j->request))
        goto out;
    if (st == RK_JOB_RUNNING && j->pgid > 0 && json_object_set_new(o, "pgid", json_integer(j->pgid)))
        goto out;
    text = json_dumps(o, JSON_COMPACT);
out:
    json_decref(o);
    return text;
}

/* Stores text as j's job.json at level (is_new: no job.json exists yet);
 * keeps it as j->rec while the job is unfinished. Takes text. */
static int store_record(job_t *j, char *text, rk_agent_write_t level, bool is_new)
{
    int rc = is_new ? rk_agent_write_new(j->dir, "job.json", text, strlen(text), level)
                    : rk_agent_write_atomic_ex(j->dir, "job.json", text, strlen(text), level);
    if (rc)
        rk_log_error("cannot store the job record", "job_id", j->id, "error", strerror(errno));
    free(j->rec);
    j->rec = NULL;
    if (rc == RK_OK && j->state <= RK_JOB_RUNNING)
        j->rec = text;
    else
        free(text);
    return rc;
}

int rk_agent_job_persist(rk_agent_t *a, job_t *j, bool sync_dir)
{
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    return store_record(j, text, rk_agent_record_level(a, sync_dir), false);
}

int rk_agent_job_persist_new(rk_agent_t *a, job_t *j)
{
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    return store_record(j, text, rk_agent_record_level(a, true), true);
}

/* Writes the n bytes of text at off of dir/job.json, an existing file. */
static int write_in_place(const char *dir, const char *text, size_t n, off_t off)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/job.json", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return RK_EIO;
    ssize_t k = pwrite(fd, text, n, off);
    int rc = k == (ssize_t)n ? RK_OK : RK_EIO;
    if (close(fd) != 0)
        rc = RK_EIO;
    return rc;
}

int rk_agent_job_persist_pgid(rk_agent_t *a, job_t *j)
{
    rk_agent_write_t level = rk_agent_record_level(a, false);
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    /* The group is the record's last member: the new text is the stored
     * one with its closing brace replaced by ',"pgid":N}'. Only the suffix
     * is written, so the file never loses its old content. */
    size_t old = j->rec ? strlen(j->rec) : 0;
    size_t len = strlen(text);
    if (level == RK_AGENT_WRITE_ATOMIC && old > 1 && len > old && j->rec[old - 1] == '}' &&
        memcmp(text, j->rec, old - 1) == 0 &&
        write_in_place(j->dir, text + old - 1, len - old + 1, (off_t)(old - 1)) == RK_OK) {
        free(j->rec);
        j->rec = text;
        return RK_OK;
    }
    return store_record(j, text, level, false);
}

static unsigned hash_id(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % JOB_BUCKETS;
}

job_t *rk_agent_job_find(rk_agent_t *a, const char *id)
{
    for (job_t *j = a->buckets[hash_id(id)]; j; j = j->hnext)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

void rk_agent_job_insert(rk_agent_t *a, job_t *j)
{
    unsigned h = hash_id(j->id);
    j->hnext = a->buckets[h];
    a->buckets[h] = j;
    j->next = a->jobs;
    a->jobs = j;
}

void rk_agent_job_remove(rk_agent_t *a, job_t *j)
{
    for (job_t **p = &a->buckets[hash_id(j->id)]; *p; p = &(*p)->hnext)
        if (*p == j) {
            *p = j->hnext;
            break;
        }
    for (job_t **p = &a->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
}

void rk_agent_job_free(job_t *j)
{
    if (!j)
        return;
    free(j->experiment_id);
    free(j->dir);
    free(j->message);
    free(j->rec);
    json_decref(j->request);
    if (j->has_req)
        rk_execute_request_cleanup(&j->req);
    rk_runs_free(j->runs, (size_t)j->runs_done);
    free(j);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

int rk_agent_rmtree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? RK_OK : RK_EIO;
}

/* True when /proc/<pid>/environ holds both entries: the process belongs to
 * this job of this agent (a reused pid of someone else's process does not
 * carry our job's output folder). */
static bool proc_is_job(pid_t pid, const char *want_id, const char *want_out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static const size_t cap = 256 * 1024;
    char *buf = malloc(cap + 1);
    size_t n = 0;
    ssize_t k;
    while (buf && n < cap && (k = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)k;
    close(fd);
    if (!buf)
        return false;
    bool has_id = false, has_out = false;
    for (size_t i = 0; i < n;) {
        const char *e = buf + i;
        size_t l = strnlen(e, n - i);
        if (l == strlen(want_id) && memcmp(e, want_id, l) == 0)
            has_id = true;
        if (l == strlen(want_out) && memcmp(e, want_out, l) == 0)
            has_out = true;
        i += l + 1;
    }
    free(buf);
    return has_id && has_out;
}

/* The recorded process group of j: SIGKILLed when its leader is still
 * there, still leads the group, and carries this job's environment (a
 * reused pid of someone else's process does not). True when killed. */
static bool kill_recorded_group(const job_t *j, const char *want_id, const char *want_out)
{
    pid_t pg = j->pgid;
    if (pg <= 1 || pg == getpid() || getpgid(pg) != pg || !proc_is_job(pg, want_id, want_out))
        return false;
    if (kill(-pg, SIGKILL) != 0)
        return false;
    char n[16];
    snprintf(n, sizeof n, "%d", (int)pg);
    rk_log_warn("killed the leftover process group of a job", "job_id", j->id, "pgid", n);
    return true;
}

void rk_agent_kill_leftovers(const job_t *j)
{
    char want_id[128], want_out[4200];
    snprintf(want_id, sizeof want_id, "RUCKUS_JOB_ID=%s", j->id);
    snprintf(want_out, sizeof want_out, "RUCKUS_OUTPUT_DIR=%s/output", j->dir);
    kill_recorded_group(j, want_id, want_out);
    /* Then the /proc scan, the fallback: a job recorded without a group
     * (the agent died between the running record and the pid's), a group
     * whose leader already exited, and processes that left the group. */
    /* A few rounds: a process may fork while we look. */
    for (int round = 0; round < 5; round++) {
        int killed = 0;
        DIR *d = opendir("/proc");
        if (!d)
            return;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char *end;
            long pid = strtol(de->d_name, &end, 10);
            if (*end || pid <= 1 || pid == getpid())
                continue;
            if (!proc_is_job((pid_t)pid, want_id, want_out))
                continue;
            pid_t pg = getpgid((pid_t)pid);
            if (pg == (pid_t)pid)
                kill(-pg, SIGKILL);
            kill((pid_t)pid, SIGKILL);
            killed++;
        }
        closedir(d);
        if (!killed)
            return;
        char n[16];
        snprintf(n, sizeof n, "%d", killed);
        rk_log_warn("killed leftover processes of a job", "job_id", j->id, "count", n);
        usleep(20000);
    }
}

static char *str_or(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return strdup(s ? s : "");
}

static rk_time_t time_of(const json_t *o, const char *k)
{
    rk_time_t t = 0;
    const char *s = json_string_value(json_object_get(o, k));
    if (s)
        rk_time_parse(s, &t);
    return t;
}

/* A job whose result.json exists and says its status is finished, whatever
 * job.json says: the record is not rewritten after the result (it may still
 * read assigned or running). Fills st, and the end time and message from
 * the result (the error, else the status). False without a usable result. */
static bool result_state(const char *dir, rk_job_state_t *st, rk_time_t *finished_at, char **message)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/result.json", dir);
    json_t *r = json_load_file(path, 0, NULL);
    const char *s = json_string_value(json_object_get(r, "status"));
    bool ok = s && rk_job_state_parse(s, st) == 0 && *st > RK_JOB_RUNNING;
    if (ok) {
        *finished_at = time_of(r, "completed_at");
        if (!*finished_at)
            *finished_at = rk_time_now_us();
        const char *e = json_string_value(json_object_get(r, "error"));
        char *m = strdup(e && *e ? e : s);
        if (m) {
            free(*message);
            *message = m;
        }
    }
    json_decref(r);
    return ok;
}

/* Loads one job folder. Returns the job (inserted), or NULL when the
 * folder holds no usable record (left alone, logged). */
static job_t *load_one(rk_agent_t *a, const char *name)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/%s", a->jobs_dir, name);
    snprintf(path, sizeof path, "%s/job.json", dir);
    json_t *o = json_load_file(path, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "job_id"));
    const char *state = json_string_value(json_object_get(o, "state"));
    job_t *j = NULL;
    rk_job_state_t st;
    if (!o || !id || strcmp(id, name) != 0 || !state || rk_job_state_parse(state, &st) != 0) {
        rk_log_warn("skipping a job folder without a valid job.json", "path", dir);
        goto out;
    }
    if (!(j = calloc(1, sizeof *j)))
        goto out;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->agent = a;
    j->dir = strdup(dir);
    j->experiment_id = str_or(o, "experiment_id");
    j->message = str_or(o, "message");
    const char *tt = json_string_value(json_object_get(o, "task_type"));
    if (tt)
        rk_task_type_parse(tt, &j->type);
    j->state = st;
    j->accepted_at = time_of(o, "accepted_at");
    j->started_at = time_of(o, "started_at");
    j->finished_at = time_of(o, "finished_at");
    j->changed_at = time_of(o, "changed_at");
    json_int_t pg = json_integer_value(json_object_get(o, "pgid"));
    j->pgid = pg > 1 && pg <= INT32_MAX ? (pid_t)pg : 0;
    rk_agent_job_insert(a, j);
    rk_job_state_t rs;
    rk_time_t end = 0;
    if (st <= RK_JOB_RUNNING && result_state(dir, &rs, &end, &j->message)) {
        /* Finished: its result was stored (the end of a job writes no
         * later record). Its processes ended before the result was written,
         * so the recorded group is not touched (its pid may be reused). */
        j->state = rs;
        j->finished_at = j->changed_at = end;
        j->pgid = 0;
    } else if (st == RK_JOB_ASSIGNED) {
        rk_verr_t e = {{0}};
        json_t *rq = json_object_get(o, "request");
        if (rq && rk_execute_request_decode(rq, "", &j->req, &e) == 0) {
            j->has_req = true;
            j->request = json_incref(rq);
            a->active++;
            a->maybe_waiting = true;
            rk_log_info("recovered a job not started yet", "job_id", j->id);
        } else {
            rk_execute_request_cleanup(&j->req);
            a->active++;
            rk_agent_job_finish(a, j, RK_JOB_FAILED, "stored job record is unreadable",
                                e.msg[0] ? e.msg : "stored job record is unreadable");
        }
    } else if (st == RK_JOB_RUNNING) {
        rk_agent_kill_leftovers(j);
        a->active++;
        rk_agent_job_finish(a, j, RK_JOB_FAILED, "agent restarted during the job",
                            "agent restarted during the job");
        rk_log_warn("job was running when the agent stopped; recorded failed", "job_id", j->id);
    }
out:
    json_decref(o);
    return j;
}

int rk_agent_jobs_load(rk_agent_t *a)
{
    DIR *d = opendir(a->jobs_dir);
    if (!d)
        return RK_EIO;
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d)) != NULL) {
        if (!rk_id_valid(de->d_name))
            continue;
        if (load_one(a, de->d_name))
            n++;
    }
    closedir(d);
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", n);
    rk_log_info("job records loaded", "count", cnt);
    return RK_OK;
}
