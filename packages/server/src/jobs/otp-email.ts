import { getSmtpConfig } from '../core/smtp/service.js';
import { OTP_JOB, openCode } from '../core/visitors/otp.js';
import { buildMail, classifySmtpError, sendMail } from './email.js';
import { type JobWorker, PermanentJobError } from './worker.js';

/**
 * The `visitor.otp` job: mails a web-chat visitor their verification code through the location's
 * own mail server. The code travels sealed in the payload; a code already used, replaced or
 * expired is not sent.
 */
export function registerOtpEmail(worker: JobWorker, options: { secret: string; publicUrl: string }): void {
  worker.register(OTP_JOB, async (job, ctx) => {
    const { otpId, email, sealed } = job.payload as { otpId?: string; email?: string; sealed?: string };
    if (!job.locationId || !otpId || !email || !sealed) {
      throw new PermanentJobError('visitor.otp needs a location, an otpId, an email and a sealed code');
    }
    const { rows } = await ctx.db.query<{ live: boolean; name: string | null }>(
      `SELECT o.used_at IS NULL AND o.expires_at > now() AS live, w.name
       FROM visitor_otps o LEFT JOIN chat_widgets w ON w.location_id = o.location_id AND w.id = o.channel_id
       WHERE o.location_id = $1 AND o.id = $2`,
      [job.locationId, otpId],
    );
    if (!rows[0]?.live) return;
    const code = openCode(options.secret, otpId, sealed);
    if (!code) throw new PermanentJobError('the verification code cannot be opened with this server secret');
    const smtp = await getSmtpConfig(ctx.db, job.locationId);
    if (!smtp) throw new PermanentJobError('the location has no mail server');
    const site = rows[0].name ?? 'our chat';
    const minutes = 10;
    try {
      const text =
        `Your verification code is ${code}\n\n` +
        `Enter it in the chat to confirm your email. It expires in ${minutes} minutes.\n` +
        'If you did not ask for it, ignore this email.\n';
      const mail = buildMail(
        {
          messageId: `otp-${otpId}`,
          subject: `Your verification code for ${site}`,
          body: text,
          html: null,
          attachments: [],
          email: { to: [email] },
        },
        smtp,
        options.publicUrl,
      );
      await sendMail(smtp, mail);
    } catch (err) {
      const failure = classifySmtpError(err);
      if (failure.permanent) throw new PermanentJobError(failure.message, { cause: err });
      throw err;
    }
  });
}
