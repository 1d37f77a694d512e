/*
 * Dasan: a call recorder that writes by elapsed time.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 * (It is an Asterisk module: it links with Asterisk, which is GPL-2.0.)
 *
 * DasanRecord(file.wav[,i(VAR)]) records both directions of the channel, mixed, into one
 * file; StopDasanRecord() stops every DasanRecord of the channel.
 *
 * Why not MixMonitor: MixMonitor writes the frames the channel hands it. When the host is
 * saturated, a party's audio arrives late or in bursts, and MixMonitor's audiohook flushes
 * both directions whenever one side lags by more than 100 ms; when no audio comes at all
 * (both parties silent without RTP, a stalled peer) it writes nothing. Its file then differs
 * from the call by seconds, and the recordings audit cannot tell lost audio from a slow
 * host. A recorder must fill the timeline.
 *
 * Invariants:
 * - The file holds 20 ms of audio (8 kHz signed linear, both directions mixed) for every
 *   20 ms of monotonic time from the start to the stop (the channel's hang-up, or
 *   StopDasanRecord), written every 100 ms: its length is the call's, whatever the host or
 *   the parties do.
 * - In each tick a direction contributes the next 20 ms it has queued, or silence if it has
 *   none: audio that arrives late is written in the ticks after it arrives (the audiohook
 *   itself drops audio that waits longer than half a second), and a writer thread that was
 *   not scheduled writes every tick it missed as soon as it runs again.
 * - Every batch is flushed to the file before the next is taken: a write the disk refuses
 *   fails at once, with that batch still in memory. (Asterisk's file streams buffer 32 KB,
 *   two seconds of audio, in stdio: unflushed, the disk filling showed only at the next
 *   flush, and the seconds in the buffer were lost with it.)
 * - A write that fails (the disk is full) moves the recording, once, to the s() file, which
 *   goes on with the same timeline: the refused batch is cut off the old file (a part of it
 *   may have reached the disk) and written to the new one, so the two files are the call's
 *   two parts, in order, neither missing nor repeating audio.
 * - A file counts as opened once its WAV header is on the disk. If the first file cannot be
 *   opened and there is an s() file, the recording starts in that one (the call is then
 *   recorded whole, in one file). If none can be opened, nothing is attached, the i()
 *   variable stays unset and a warning is logged, so the caller (Dasan's recording guard)
 *   sees the recording did not start and moves it to the spare path.
 * - On start the channel publishes the same stasis message as MixMonitor (AMI event
 *   MixMonitorStart); StopDasanRecord publishes MixMonitorStop.
 * - The recorder's memory is shared (ao2) by the channel's datastore and the writer thread;
 *   the thread releases its reference only once the channel has let go of the audiohook.
 */

#include "asterisk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "asterisk/app.h"
#include "asterisk/astobj2.h"
#include "asterisk/audiohook.h"
#include "asterisk/channel.h"
#include "asterisk/datastore.h"
#include "asterisk/file.h"
#include "asterisk/format_cache.h"
#include "asterisk/frame.h"
#include "asterisk/lock.h"
#include "asterisk/mod_format.h" /* the stream's FILE, to flush each batch */
#include "asterisk/module.h"
#include "asterisk/pbx.h"
#include "asterisk/stasis_channels.h"
#include "asterisk/utils.h"

#define TICK_MS 20
#define TICK_SAMPLES 160 /* 20 ms at 8 kHz */
/* The writer wakes every WAKE_TICKS ticks (100 ms), or at once when the call's status
 * changes, takes the audio due since and writes it as one frame: a fifth of the wake-ups,
 * reads and writes of one per tick, well inside the half second the audiohook queues. */
#define WAKE_TICKS 5
/* Ticks read under the audiohook's lock in one go, then written without it. */
#define BATCH_TICKS 50

static const char app_record[] = "DasanRecord";
static const char app_stop[] = "StopDasanRecord";

static const char record_synopsis[] = "Record the channel's call, both directions, by elapsed time";
static const char record_description[] =
	"DasanRecord(filename.ext[,options]): mix both directions of the channel into one file,\n"
	"one 20 ms frame for every 20 ms of time (silence where a party sent nothing), from now\n"
	"until the hang-up or StopDasanRecord(). The extension is the file format (wav).\n"
	"Options: i(VAR) - store the recording's id in VAR once it is recording.\n"
	"         s(/spare/file.ext) - when a write fails (disk full), go on in this file:\n"
	"         the two files are then the two parts of the call's timeline.\n"
	"         m - move: once this recording runs, stop the channel's other DasanRecord\n"
	"         recordings (no gap between the old file and this one).\n";
static const char stop_synopsis[] = "Stop the channel's DasanRecord recordings";
static const char stop_description[] = "StopDasanRecord(): stop every DasanRecord of the channel.\n";

enum {
	OPT_ID = (1 << 0),
	OPT_SPARE = (1 << 1),
	OPT_MOVE = (1 << 2),
};

enum {
	OPT_ARG_ID,
	OPT_ARG_SPARE,
	OPT_ARG_COUNT,
};

AST_APP_OPTIONS(record_options, {
	AST_APP_OPTION_ARG('i', OPT_ID, OPT_ARG_ID),
	AST_APP_OPTION_ARG('s', OPT_SPARE, OPT_ARG_SPARE),
	AST_APP_OPTION('m', OPT_MOVE),
});

struct recorder {
	struct ast_audiohook audiohook;
	struct ast_filestream *file;
	struct timespec started; /* CLOCK_MONOTONIC */
	char id[40];
	char path[PATH_MAX];
	char spare[PATH_MAX]; /* where to go on when a write fails ("": nowhere) */
	char channel[AST_CHANNEL_NAME];
};

static int recorder_ids;

static int stop_recordings(struct ast_channel *chan, struct recorder *keep);

/*! Open \a path (its extension is the format) for writing, creating its folder, with its
 * header on the disk; NULL (errno set) if it cannot be created or the header not written. */
static struct ast_filestream *open_file(const char *path)
{
	char base[PATH_MAX];
	char *dot, *slash;
	const char *format = "wav";
	struct ast_filestream *file;
	int err;

	ast_copy_string(base, path, sizeof(base));
	slash = strrchr(base, '/');
	dot = strrchr(base, '.');
	if (dot && dot > slash) {
		*dot = '\0';
		format = dot + 1;
	}
	if (slash && slash != base) {
		*slash = '\0';
		if (ast_mkdir(base, 0777)) {
			return NULL;
		}
		*slash = '/';
	}
	file = ast_writefile(base, format, NULL, O_CREAT | O_TRUNC | O_WRONLY, 0, AST_FILE_MODE);
	/* ast_writefile seeks after writing the header, which flushes it and ignores a failure
	 * (the stream keeps its error flag): ferror() tells. */
	if (!file || (fflush(file->f) == 0 && !ferror(file->f))) {
		return file;
	}
	/* A full disk takes a new file but not its header: nothing can be recorded in it. */
	err = errno ? errno : EIO;
	ast_closestream(file);
	unlink(path);
	errno = err;
	return NULL;
}

static void recorder_destroy(void *obj)
{
	struct recorder *rec = obj;

	ast_audiohook_destroy(&rec->audiohook);
}

static void datastore_destroy(void *data)
{
	ao2_ref(data, -1);
}

static const struct ast_datastore_info recorder_datastore = {
	.type = "dasanrecord",
	.destroy = datastore_destroy,
};

static long long elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (long long) (to->tv_sec - from->tv_sec) * 1000 + (to->tv_nsec - from->tv_nsec) / 1000000;
}

static void add_direction(struct recorder *rec, enum ast_audiohook_direction direction, short *mix)
{
	struct ast_frame *frame;
	const short *samples;
	int i;

	frame = ast_audiohook_read_frame(&rec->audiohook, TICK_SAMPLES, direction, ast_format_slin);
	if (!frame) {
		return; /* nothing queued for this tick: silence */
	}
	samples = frame->data.ptr;
	for (i = 0; i < TICK_SAMPLES && i < frame->samples; i++) {
		int sum = mix[i] + samples[i];
		mix[i] = sum > 32767 ? 32767 : (sum < -32768 ? -32768 : sum);
	}
	ast_frfree(frame);
}

/*! Write \a count ticks from \a mix as one frame and flush it to the file; false (errno
 * set) if the file refused it. Then the file ends where it ended before: whatever part of
 * the frame reached it is cut off again (the caller writes the whole frame elsewhere). */
static int write_ticks(struct recorder *rec, short (*mix)[TICK_SAMPLES], int count)
{
	struct ast_frame frame = {
		.frametype = AST_FRAME_VOICE,
		.datalen = count * TICK_SAMPLES * sizeof(short),
		.samples = count * TICK_SAMPLES,
		.src = app_record,
	};
	FILE *f = rec->file->f;
	off_t before = ftello(f); /* the stream's buffer is empty: the file's end */
	int err;

	frame.subclass.format = ast_format_slin;
	frame.data.ptr = mix[0];
	if (ast_writestream(rec->file, &frame) == 0 && fflush(f) == 0 && !ferror(f)) {
		return 1;
	}
	/* stdio dropped what it could not write; cut off what it could. */
	err = errno;
	if (before >= 0 && ftruncate(fileno(f), before)) {
		ast_log(LOG_WARNING, "%s: could not cut %s back to %lld bytes: %s\n", app_record,
			rec->path, (long long) before, strerror(errno));
	}
	errno = err;
	return 0;
}

static void *recorder_thread(void *data)
{
	struct recorder *rec = data;
	short (*batch)[TICK_SAMPLES];
	long long written = 0;
	int running = 1;
	int write_failed = 0;

	batch = ast_calloc(BATCH_TICKS, sizeof(*batch));
	if (!batch) {
		ast_log(LOG_ERROR, "%s: no memory for the recording of %s\n", app_record, rec->channel);
	}

	while (running && batch) {
		struct timespec now;
		long long due;
		int count = 0;

		clock_gettime(CLOCK_MONOTONIC, &now);
		due = elapsed_ms(&rec->started, &now) / TICK_MS;

		ast_audiohook_lock(&rec->audiohook);
		running = rec->audiohook.status == AST_AUDIOHOOK_STATUS_RUNNING;
		if (running && due - written < WAKE_TICKS) {
			/* Wait for the next batch, or for a change of status (a stop or the hang-up
			 * signals the audiohook's trigger): the file closes at once, and the thread wakes
			 * ten times a second, not fifty. The wait's deadline is on the wall clock (the
			 * trigger's clock); the ticks are counted on the monotonic one, so a step of the
			 * wall clock may only delay a write, never change the file's length. */
			struct timeval wait = ast_tvadd(ast_tvnow(),
				ast_samp2tv((WAKE_TICKS - (due - written)) * TICK_MS, 1000));
			struct timespec until = { .tv_sec = wait.tv_sec, .tv_nsec = wait.tv_usec * 1000 };

			ast_cond_timedwait(&rec->audiohook.trigger, &rec->audiohook.lock, &until);
			ast_audiohook_unlock(&rec->audiohook);
			continue;
		}
		while (written + count < due && count < BATCH_TICKS) {
			memset(batch[count], 0, sizeof(batch[count]));
			add_direction(rec, AST_AUDIOHOOK_DIRECTION_READ, batch[count]);
			add_direction(rec, AST_AUDIOHOOK_DIRECTION_WRITE, batch[count]);
			count++;
		}
		ast_audiohook_unlock(&rec->audiohook);

		if (count && !write_failed && !write_ticks(rec, batch, count)) {
			int err = errno;
			struct ast_filestream *spare = NULL;

			if (!ast_strlen_zero(rec->spare)) {
				spare = open_file(rec->spare);
			}
			if (spare) {
				ast_log(LOG_WARNING, "%s: could not write %s (%s); the call goes on in %s\n",
					app_record, rec->path, strerror(err), rec->spare);
				ast_closestream(rec->file);
				rec->file = spare;
				ast_copy_string(rec->path, rec->spare, sizeof(rec->path));
				rec->spare[0] = '\0';
			}
			if (!spare || !write_ticks(rec, batch, count)) {
				write_failed = 1;
				ast_log(LOG_ERROR, "%s: could not write %s (%s); the rest of the call is not in it\n",
					app_record, rec->path, strerror(spare ? errno : err));
			}
		}
		written += count;
		if (written < due) {
			running = 1; /* more missed ticks to write before looking at the status again */
			continue;
		}
	}
	ast_free(batch);
	ast_closestream(rec->file);
	rec->file = NULL;
	ast_verb(3, "%s: %s closed after %lld ms (%s)\n", app_record, rec->path, written * TICK_MS,
		rec->channel);

	/* Stopped (SHUTDOWN): the channel drops the audiohook at its next frame or its hang-up;
	 * until then it may still touch it, so the memory is kept. */
	ast_audiohook_lock(&rec->audiohook);
	while (rec->audiohook.status != AST_AUDIOHOOK_STATUS_DONE) {
		struct timeval wait = ast_tvadd(ast_tvnow(), ast_samp2tv(200, 1000));
		struct timespec until = { .tv_sec = wait.tv_sec, .tv_nsec = wait.tv_usec * 1000 };

		ast_cond_timedwait(&rec->audiohook.trigger, &rec->audiohook.lock, &until);
	}
	ast_audiohook_unlock(&rec->audiohook);

	ao2_ref(rec, -1);
	ast_module_unref(ast_module_info->self);
	return NULL;
}

static int record_exec(struct ast_channel *chan, const char *data)
{
	char *parse;
	struct ast_flags flags = { 0 };
	char *opts[OPT_ARG_COUNT] = { NULL };
	struct recorder *rec;
	struct ast_datastore *datastore;
	pthread_t thread;
	AST_DECLARE_APP_ARGS(args,
		AST_APP_ARG(filename);
		AST_APP_ARG(options);
	);

	if (ast_strlen_zero(data)) {
		ast_log(LOG_WARNING, "%s requires a file name (%s(/path/file.wav[,i(VAR)s(/spare.wav)]))\n",
			app_record, app_record);
		return 0;
	}
	parse = ast_strdupa(data);
	AST_STANDARD_APP_ARGS(args, parse);
	if (ast_strlen_zero(args.filename) || args.filename[0] != '/') {
		ast_log(LOG_WARNING, "%s: the file name must be an absolute path, got '%s'\n", app_record,
			S_OR(args.filename, ""));
		return 0;
	}
	if (args.options && ast_app_parse_options(record_options, &flags, opts, args.options)) {
		ast_log(LOG_WARNING, "%s: options '%s' not understood\n", app_record, args.options);
		return 0;
	}

	rec = ao2_alloc(sizeof(*rec), recorder_destroy);
	if (!rec) {
		return 0;
	}
	ast_audiohook_init(&rec->audiohook, AST_AUDIOHOOK_TYPE_SPY, app_record, 0);
	ast_copy_string(rec->path, args.filename, sizeof(rec->path));
	ast_copy_string(rec->channel, ast_channel_name(chan), sizeof(rec->channel));
	snprintf(rec->id, sizeof(rec->id), "dasanrecord-%d", ast_atomic_fetchadd_int(&recorder_ids, 1));
	if (ast_test_flag(&flags, OPT_SPARE) && !ast_strlen_zero(opts[OPT_ARG_SPARE])) {
		ast_copy_string(rec->spare, opts[OPT_ARG_SPARE], sizeof(rec->spare));
	}
	rec->file = open_file(args.filename);
	if (!rec->file && !ast_strlen_zero(rec->spare)) {
		/* The first file refused even its header (the disk is full): record the call in
		 * the spare file from its start. */
		ast_log(LOG_WARNING, "%s: cannot open %s for %s (%s); recording to %s\n", app_record,
			args.filename, ast_channel_name(chan), strerror(errno), rec->spare);
		rec->file = open_file(rec->spare);
		if (rec->file) {
			ast_copy_string(rec->path, rec->spare, sizeof(rec->path));
			rec->spare[0] = '\0';
		}
	}
	if (!rec->file) {
		ast_log(LOG_WARNING, "%s: cannot open %s for %s: %s\n", app_record, rec->path,
			ast_channel_name(chan), strerror(errno));
		ao2_ref(rec, -1);
		return 0;
	}

	datastore = ast_datastore_alloc(&recorder_datastore, rec->id);
	if (!datastore) {
		ast_closestream(rec->file);
		rec->file = NULL;
		ao2_ref(rec, -1);
		return 0;
	}
	ao2_ref(rec, +1);
	datastore->data = rec;
	ast_channel_lock(chan);
	ast_channel_datastore_add(chan, datastore);
	ast_channel_unlock(chan);

	clock_gettime(CLOCK_MONOTONIC, &rec->started);
	if (ast_audiohook_attach(chan, &rec->audiohook)) {
		ast_log(LOG_WARNING, "%s: cannot attach to %s (hung up?)\n", app_record, ast_channel_name(chan));
		ast_closestream(rec->file);
		rec->file = NULL;
		ao2_ref(rec, -1); /* the datastore keeps the other reference until the channel goes */
		return 0;
	}

	/* The thread owns the creation reference from here. */
	ast_module_ref(ast_module_info->self);
	if (ast_pthread_create_detached_background(&thread, NULL, recorder_thread, rec)) {
		ast_log(LOG_ERROR, "%s: no thread for %s\n", app_record, args.filename);
		ast_audiohook_update_status(&rec->audiohook, AST_AUDIOHOOK_STATUS_SHUTDOWN);
		ast_closestream(rec->file);
		rec->file = NULL;
		ast_module_unref(ast_module_info->self);
		/* The audiohook stays on the channel until it drops it: keep the memory with the
		 * datastore (its reference) and leak nothing else. */
		ao2_ref(rec, -1);
		return 0;
	}

	if (ast_test_flag(&flags, OPT_MOVE)) {
		stop_recordings(chan, rec);
	}
	if (ast_test_flag(&flags, OPT_ID) && !ast_strlen_zero(opts[OPT_ARG_ID])) {
		pbx_builtin_setvar_helper(chan, opts[OPT_ARG_ID], rec->id);
	}
	ast_channel_publish_cached_blob(chan, ast_channel_mixmonitor_start_type(), NULL);
	ast_verb(3, "%s: recording %s to %s\n", app_record, ast_channel_name(chan), rec->path);
	return 0;
}

/*! Stop the channel's recordings other than \a keep (NULL: all); how many were running. */
static int stop_recordings(struct ast_channel *chan, struct recorder *keep)
{
	struct ast_datastore *datastore;
	int stopped = 0;

	ast_channel_lock(chan);
	AST_LIST_TRAVERSE(ast_channel_datastores(chan), datastore, entry) {
		struct recorder *rec;

		if (datastore->info != &recorder_datastore || datastore->data == keep) {
			continue;
		}
		rec = datastore->data;
		ast_audiohook_lock(&rec->audiohook);
		if (rec->audiohook.status == AST_AUDIOHOOK_STATUS_RUNNING) {
			rec->audiohook.status = AST_AUDIOHOOK_STATUS_SHUTDOWN;
			ast_cond_signal(&rec->audiohook.trigger);
			stopped++;
		}
		ast_audiohook_unlock(&rec->audiohook);
	}
	ast_channel_unlock(chan);
	return stopped;
}

static int stop_exec(struct ast_channel *chan, const char *data)
{
	if (stop_recordings(chan, NULL)) {
		ast_channel_publish_cached_blob(chan, ast_channel_mixmonitor_stop_type(), NULL);
	}
	return 0;
}

static int unload_module(void)
{
	int res = ast_unregister_application(app_stop);

	res |= ast_unregister_application(app_record);
	return res;
}

static int load_module(void)
{
	int res = ast_register_application(app_record, record_exec, record_synopsis, record_description);

	res |= ast_register_application(app_stop, stop_exec, stop_synopsis, stop_description);
	return res ? AST_MODULE_LOAD_DECLINE : AST_MODULE_LOAD_SUCCESS;
}

AST_MODULE_INFO_STANDARD(ASTERISK_GPL_KEY, "Dasan recorder: both directions, by elapsed time");
